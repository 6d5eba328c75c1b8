"""bench/results.png: delivery-lag CDFs (one panel per grid cell, plus the concurrency waves), posts per answer, and
one posts-against-lag panel per coalescing-window sweep with the goals and the bound."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or over SSH

import matplotlib.pyplot as plt
from matplotlib.axis import Axis
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from bench import goals
from bench.concurrency import ConcurrencyResult
from bench.grid import GridRun
from bench.plan import BenchPlan, window_ms
from bench.summary import BoundPoint, Row, Tradeoff

COLOURS = {"baseline": "#c0392b", "engine": "#1f77b4"}
EXTRA_COLOURS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
"""Labels stay readable over the hatched region."""


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
    path: Path,
    plan: BenchPlan,
    runs: list[GridRun],
    rows: list[Row],
    sweeps: list[Tradeoff],
    concurrency: ConcurrencyResult | None,
) -> None:
    panels = len(plan.cells) + (1 if concurrency is not None else 0)
    heights = (3, 2, 3.4) if sweeps else (3, 2)
    figure = plt.figure(figsize=(max(4.2 * panels, 6.5 * len(sweeps)), 4.1 * sum(heights) / 2.5), layout="constrained")
    grid = figure.add_gridspec(len(heights), panels, height_ratios=heights)
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

    if sweeps:
        sweep_grid = grid[2, :].subgridspec(1, len(sweeps))
        for index, sweep in enumerate(sweeps):
            _tradeoff_panel(figure.add_subplot(sweep_grid[0, index]), sweep, names)

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


def _tradeoff_panel(ax: plt.Axes, sweep: Tradeoff, names: list[str]) -> None:
    """Posts (share of the baseline's) against lag p95, one point per window, over the region no sender can reach:
    the goal quadrant lies where it lies, inside that region or not, for everyone to see."""
    curve = [point for point in sweep.curve if point.lag_p95_bound_ms < float("inf")]
    measured = [row for row in sweep.windows if row.posts_share_of_baseline is not None]
    xs = [point.share_of_baseline for point in curve] + [row.posts_share_of_baseline or 0 for row in measured]
    ys = [point.lag_p95_bound_ms for point in curve] + [row.lag_p95_ms for row in measured]
    x_low, x_high = min(xs) / 1.2, max(xs) * 1.2
    y_low, y_high = sweep.cell.latency_ms / 1.15, max(ys) * 1.3

    share_goal, lag_goal = goals.POSTS_SHARE_OF_BASELINE_MAX, goals.LAG_P95_MAX_MS
    ax.fill_between([x_low, share_goal], y_low, lag_goal, color="#2ca02c", alpha=0.18, label="both goals met")
    # Fewer posts never lower the bound, so the region left of the curve's first point is out of reach too.
    step_x, step_y = _bound_steps(curve, sweep.baseline.frames_per_answer)
    ax.fill_between(
        [x_low, *step_x],
        y_low,
        [step_y[0], *step_y],
        facecolor="none",
        edgecolor="#555555",
        hatch="///",
        linewidth=0,
        label="out of reach for any sender",
    )
    ax.plot(step_x, step_y, color="black", linewidth=1.4, label="bound: best p95 for that many posts")
    ax.plot(
        [point.share_of_baseline for point in curve],
        [point.lag_p95_even_bound_ms for point in curve],
        color="black",
        linestyle=":",
        linewidth=1.1,
        label="0.95·T/(N−2)+L (text flowing evenly)",
    )
    ax.axvline(share_goal, color="black", linestyle="--", linewidth=0.9)
    ax.axhline(lag_goal, color="black", linestyle="--", linewidth=0.9)
    for row in measured:
        x, y = row.posts_share_of_baseline or 0, row.lag_p95_ms
        ax.scatter([x], [y], color=_colour(row.variant.name, names), zorder=3, s=36)
        ax.annotate(
            f"{window_ms(row.variant)} ms",
            (x, y),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
            bbox=LABEL_BOX,
        )
    at_goal = sweep.at_posts_goal
    ax.scatter([at_goal.share_of_baseline], [at_goal.lag_p95_bound_ms], marker="x", color="black", zorder=3)
    ax.annotate(
        f"posts goal: ≤ {at_goal.frames} frames → p95 ≥ {at_goal.lag_p95_bound_ms:.1f} ms",
        (at_goal.share_of_baseline, at_goal.lag_p95_bound_ms),
        textcoords="offset points",
        xytext=(-8, 8),  # up and left: the measured points lie to the right of the goal
        ha="right",
        fontsize=8,
        bbox=LABEL_BOX,
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(y_low, y_high)
    _plain_log_ticks(ax.xaxis, x_low, x_high, "{:g}×")
    _plain_log_ticks(ax.yaxis, y_low, y_high, "{:g}", extra=(lag_goal,))
    ax.set_xlabel("posts per answer, share of the per-chunk baseline's (log)")
    ax.set_ylabel("delivery lag p95, ms (log)")
    ax.set_title(f"{sweep.cell.label}: one point per coalescing window (dashed: the goals)", fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="upper right", fontsize=7)


def _bound_steps(curve: Sequence[BoundPoint], baseline_frames: float) -> tuple[list[float], list[float]]:
    """The bound as the step it is: frames come whole, so a share between N and N + 1 frames gets N's bound; between
    two curve points further apart it drops to the next point's bound at once (never above the true bound)."""
    xs: list[float] = []
    ys: list[float] = []
    for point, following in zip(curve, [*curve[1:], None], strict=True):
        step_end = (point.frames + 1) / baseline_frames
        xs += [point.share_of_baseline, step_end]
        ys += [point.lag_p95_bound_ms, point.lag_p95_bound_ms]
        if following is not None:
            xs.append(step_end)
            ys.append(following.lag_p95_bound_ms)
    return xs, ys


def _plain_log_ticks(axis: Axis, low: float, high: float, label: str, extra: Sequence[float] = ()) -> None:
    """1-2-5 ticks written as plain numbers: matplotlib's 3×10⁻² labels on short log ranges crowd each other."""
    values = [m * 10.0**e for e in range(-3, 5) for m in (1, 2, 5)] + list(extra)
    axis.set_major_locator(FixedLocator(sorted(v for v in values if low <= v <= high)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: label.format(value)))
    axis.set_minor_formatter(NullFormatter())
