"""bench/results.png: delivery-lag CDFs (one panel per grid cell, plus the concurrency waves) and posts per answer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or over SSH

import matplotlib.pyplot as plt

from bench import goals
from bench.concurrency import ConcurrencyResult
from bench.grid import GridRun
from bench.plan import BenchPlan
from bench.summary import Row

COLOURS = {"baseline": "#c0392b", "engine": "#1f77b4"}
EXTRA_COLOURS = ("#2ca02c", "#9467bd", "#ff7f0e")


def _colour(variant: str, names: list[str]) -> str:
    if variant in COLOURS:
        return COLOURS[variant]
    extras = [name for name in names if name not in COLOURS]
    return EXTRA_COLOURS[extras.index(variant) % len(EXTRA_COLOURS)]


def _cdf(ax: plt.Axes, values: Sequence[float], label: str, colour: str) -> None:
    ordered = sorted(max(value, 0.1) for value in values)  # log axis: clamp the (rare) sub-0.1 ms receipts
    if not ordered:
        return
    fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
    ax.step(ordered, fractions, where="post", label=label, color=colour, linewidth=1.6)


def write_plot(
    path: Path, plan: BenchPlan, runs: list[GridRun], rows: list[Row], concurrency: ConcurrencyResult | None
) -> None:
    panels = len(plan.cells) + (1 if concurrency is not None else 0)
    figure = plt.figure(figsize=(4.2 * panels, 8.2), constrained_layout=True)
    grid = figure.add_gridspec(2, panels, height_ratios=(3, 2))
    names = list(dict.fromkeys(variant.name for cell in plan.cells for variant in cell.variants))

    for index, cell in enumerate(plan.cells):
        ax = figure.add_subplot(grid[0, index])
        for variant in cell.variants:
            lags = [
                lag
                for run in runs
                if run.cell == cell and run.variant == variant and run.metrics
                for lag in run.metrics.lags_ms
            ]
            _cdf(ax, lags, variant.name, _colour(variant.name, names))
        _decorate_cdf(ax, f"{plan.tokens}-token answers, {cell.label}")

    if concurrency is not None:
        ax = figure.add_subplot(grid[0, panels - 1])
        for wave, colour in zip(concurrency.waves, ("#1f77b4", "#17becf", "#7f7f7f"), strict=False):
            label = f"engine, wave {wave.number} ({wave.delivered}/{len(wave.clients)} answers correct)"
            _cdf(ax, wave.lags_ms, label, colour)
        setup = concurrency.setup
        _decorate_cdf(
            ax, f"{setup.clients} clients at once, {setup.tokens} tokens\nR={setup.rate:g} L={setup.latency_ms:g}ms"
        )

    bars = figure.add_subplot(grid[1, :])
    width = 0.8 / max(len(cell.variants) for cell in plan.cells)
    for cell_index, cell in enumerate(plan.cells):
        baseline_posts = None
        for variant_index, variant in enumerate(cell.variants):
            row = next((r for r in rows if r.cell == cell and r.variant == variant), None)
            if row is None:
                continue
            posts = row.posts_per_1k * plan.tokens / 1000
            baseline_posts = posts if not row.is_relay else baseline_posts
            x = cell_index + (variant_index - (len(cell.variants) - 1) / 2) * width
            label = variant.name if variant.name not in _labelled(bars) else None
            bars.bar(x, posts, width * 0.9, color=_colour(variant.name, names), label=label)
            bars.annotate(f"{posts:.0f}", (x, posts), ha="center", va="bottom", fontsize=8)
        if baseline_posts is not None:
            goal = baseline_posts * goals.POSTS_SHARE_OF_BASELINE_MAX
            label = "goal: 1/10 of baseline" if cell_index == 0 else None
            bars.hlines(goal, cell_index - 0.45, cell_index + 0.45, colors="black", linestyles="--", label=label)
    bars.set_xticks(range(len(plan.cells)), [cell.label for cell in plan.cells])
    bars.set_ylabel(f"posts per {plan.tokens}-token answer")
    bars.legend(loc="upper right", fontsize=8)
    bars.set_title("@connections posts (= frames) per answer, median of repeats")

    figure.suptitle("Delivery lag and posts: per-chunk baseline vs the relay's engine — SIMULATED model on localgw")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _labelled(ax: plt.Axes) -> set[str]:
    return {str(container.get_label()) for container in ax.containers}


def _decorate_cdf(ax: plt.Axes, title: str) -> None:
    ax.set_xscale("log")
    ax.axvline(goals.LAG_P95_MAX_MS, color="black", linestyle="--", linewidth=0.9, label="80 ms goal")
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=0.8)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("delivery lag per model chunk, ms (log)")
    ax.set_ylabel("fraction of chunks")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="lower right", fontsize=8)
