"""What a run leaves behind: the printed report (the side-by-side grid, one table per coalescing-window sweep with the
bound, the concurrency waves, first token next to the figures from before the answer-pipeline rework, cold init, and
the goal summary), results.json and results.png. Every ✓/✗ is computed, never typed."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on CI or over SSH

import matplotlib.pyplot as plt
from matplotlib.axis import Axis
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from bench import measure
from bench.measure import FAIL, PASS, BoundPoint, FirstTokenSummary, Row, Tradeoff, mark
from bench.plan import ENGINE, BenchPlan, window_ms
from bench.run import ColdInit, ConcurrencyResult, GridRun

# First token as it was before the answer-pipeline rework: measured with the first-token runs of commit ca54855
# (15 answers per DynamoDB latency, medians) on this machine.
BEFORE_COMMIT = "ca54855"
BEFORE_DATE = "2026-12-07"
BEFORE_FIRST_TOKEN_MS = {0.0: (15.9, 23.4), 20.0: (148.2, 152.7)}
"""DynamoDB latency, ms → (start, first delta), ms."""
BEFORE_DYNAMODB_REQUESTS = {"PutItem": 6, "GetItem": 2, "UpdateItem": 3}
"""Per answer: 11 in all."""


def describe_machine(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """Where the numbers came from: they only mean something next to the machine that produced them."""
    cpu = platform.processor() or "unknown"
    try:
        models = [
            line for line in cpuinfo.read_text(errors="replace").splitlines() if line.lower().startswith("model name")
        ]
        cpu = models[0].split(":", 1)[1].strip() if models else cpu
    except OSError:
        pass
    return {
        "node": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def title(plan: BenchPlan, machine: dict[str, Any]) -> list[str]:
    size = "QUICK (smoke-test sizes, numbers mean nothing)" if plan.quick else "full"
    return [
        f"Delivery benchmark ({size}) — SIMULATED model (localgw.simulator, not an LLM) behind localgw on 127.0.0.1",
        f"{plan.tokens}-token simulated answers, ttft {plan.ttft_ms:g} ms, {plan.repeat} repeat(s) per cell, variants "
        f"interleaved · {machine['node']} · {machine['cpu']} · {machine['cores']} cores · Python {machine['python']}",
        f"load average at start {machine.get('load_average_at_start')} (a shared machine: other work skews timings)",
    ]


# Tables.


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def render(line: Sequence[str]) -> str:
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([render(header), rule, *(render(line) for line in rows)])


def _num(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _checked(text: str, row: Row, goal: str) -> str:
    met = row.checks().get(goal)
    return text if met is None else f"{text} {mark(met)}"


def _at_most(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


GOALS_LINE = (
    f"goals (relay rows): completion/generation ≤ {measure.COMPLETION_RATIO_MAX:g} · posts ≤ "
    f"{measure.POSTS_SHARE_OF_BASELINE_MAX:g}× baseline · lag p95 ≤ {measure.LAG_P95_MAX_MS:g} ms · first delta ≤ "
    f"{measure.FIRST_DELTA_OVERHEAD_MAX_MS:g} ms beyond L"
)


def grid_table(rows: Sequence[Row]) -> str:
    header = [
        "cell",
        "variant",
        "completion/generation",
        "posts per 1k tokens",
        "lag p50 ms",
        "lag p95 ms",
        "lag max ms",
        "1st delta ms (beyond L)",
        "correct",
    ]
    lines = []
    previous_cell = None
    for row in rows:
        share = "" if row.posts_share_of_baseline is None else f" ({row.posts_share_of_baseline:.2f}×)"
        ratio = f"{_num(row.completion_ratio, 3)} ({_num(row.completion_s, 2)}/{_num(row.generation_s, 2)} s)"
        lines.append(
            [
                row.cell.label if row.cell != previous_cell else "",
                row.variant.name,
                _checked(ratio, row, "completion_ratio"),
                _checked(f"{_num(row.posts_per_1k, 0)}{share}", row, "posts"),
                _num(row.lag_p50_ms),
                _checked(_num(row.lag_p95_ms), row, "lag_p95"),
                _num(row.lag_max_ms),
                _checked(f"{_num(row.first_delta_ms, 1)} ({_num(row.first_delta_net_ms, 1)})", row, "first_delta"),
                _checked(f"{row.correct_runs}/{row.runs}", row, "correct"),
            ]
        )
        previous_cell = row.cell
    return table(header, lines, right=(4, 5, 6))


def tradeoff_heading(tradeoff: Tradeoff) -> str:
    base = tradeoff.baseline
    return (
        f"{tradeoff.cell.label}: coalescing window against posts and lag (baseline {_num(base.posts_per_1k)} posts "
        f"per 1k tokens, {_num(base.frames_per_answer)} frames per answer)"
    )


def tradeoff_table(tradeoff: Tradeoff) -> str:
    header = [
        "window ms",
        "frames",
        "posts per 1k tokens",
        "× baseline",
        "lag p50 ms",
        "lag p95 ms",
        "p95 bound ms",
        "0.95·T/(N−2)+L ms",
    ]
    lines = [
        [
            f"{window_ms(row.variant)}{' (default)' if row.variant == ENGINE else ''}",
            _num(row.frames_per_answer),
            _num(row.posts_per_1k),
            _checked(_num(row.posts_share_of_baseline, 2), row, "posts"),
            _num(row.lag_p50_ms),
            _checked(_num(row.lag_p95_ms), row, "lag_p95"),
            _num(row.lag_p95_bound_ms, 1),
            _num(row.lag_p95_even_bound_ms, 1),
        ]
        for row in tradeoff.windows
    ]
    return table(header, lines, right=(1, 2, 4, 6, 7))


def tradeoff_verdict(tradeoff: Tradeoff) -> list[str]:
    """What the bound says about both goals in this cell, in two lines."""
    at_goal = tradeoff.at_posts_goal
    share = measure.POSTS_SHARE_OF_BASELINE_MAX
    limit = measure.LAG_P95_MAX_MS
    if tradeoff.both_goals_possible:
        # The floor assumes a sender that knows every chunk in advance and adds no overhead: say how little room
        # that leaves rather than a bare ✓.
        margin = limit - at_goal.lag_p95_bound_ms
        verdict = f"{PASS} both goals possible only for a sender within {margin:.1f} ms of this floor"
    else:
        verdict = f"{FAIL} no sender meets both goals here"
    if math.isinf(at_goal.lag_p95_bound_ms):
        reach = "no frame is left for text"
    else:
        reach = (
            f"with {at_goal.frames} no sender gets lag p95 below {_num(at_goal.lag_p95_bound_ms, 1)} ms "
            f"({_num(at_goal.lag_p95_even_bound_ms, 1)} for evenly flowing text)"
        )
    posts_line = f"posts ≤ {share:g}× baseline allows ≤ {at_goal.frames} frames per answer; {reach}: {verdict}"
    if tradeoff.lag_goal_frames is None:
        most = _num(tradeoff.baseline.frames_per_answer)
        lag_line = f"lag p95 ≤ {limit:g} ms is out of reach even with the baseline's {most} frames per answer"
    else:
        needed = tradeoff.lag_goal_frames
        lag_line = (
            f"lag p95 ≤ {limit:g} ms needs ≥ {needed} frames per answer "
            f"({needed / tradeoff.baseline.frames_per_answer:.2f}× baseline) whatever the sender"
        )
    return [posts_line, lag_line]


TRADEOFF_NOTE = (
    "p95 bound: the lowest pooled lag p95 any sender could reach with that many frames (start and done carry no "
    "text) for the chunks the model wrote, even knowing them in advance; 0.95·T/(N−2)+L is the same bound for text "
    "flowing evenly over the T seconds from first to last chunk (chunked text can beat it by about one chunk interval)"
)


def concurrency_heading(result: ConcurrencyResult) -> str:
    setup = result.setup
    return (
        f"{setup.clients} concurrent clients through the relay (each its own user), {setup.tokens}-token answers, "
        f"R={setup.rate:g} tok/s, L={setup.latency_ms:g} ms; all connected in {result.connect_s:.1f} s"
    )


def concurrency_table(result: ConcurrencyResult) -> str:
    header = [
        "wave",
        "correct answers",
        "lag p50 ms",
        "lag p95 ms",
        "lag max ms",
        "completion/generation med / max",
        "frames per answer",
        "1st delta p95 ms",
        "wall s",
    ]
    lines = []
    for wave in result.waves:
        s = wave.summary()
        lines.append(
            [
                str(wave.number) + (" (first)" if wave.number == 1 and len(result.waves) > 1 else ""),
                f"{s['answers_correct']}/{s['clients']} {mark(s['answers_correct'] == s['clients'])}",
                _num(s["lag_ms"]["p50"]),
                f"{_num(s['lag_ms']['p95'])} {mark(_at_most(s['lag_ms']['p95'], measure.LAG_P95_MAX_MS))}",
                _num(s["lag_ms"]["max"]),
                f"{_num(s['completion_ratio']['median'], 3)} / {_num(s['completion_ratio']['max'], 3)}",
                _num(s["frames_per_answer_median"]),
                _num(s["first_delta_ms"]["p95"]),
                f"{s['wall_s']:.1f}",
            ]
        )
    return table(header, lines, right=(2, 3, 4, 6, 7, 8))


def first_token_heading(summary: FirstTokenSummary) -> str:
    runs = max((row.runs for row in summary.rows), default=0)
    return (
        f"first token: sendtext sent → start / first delta, the model's first token at 0 ms, medians of {runs} "
        f"answers per DynamoDB latency; before = commit {BEFORE_COMMIT}, {BEFORE_DATE}, this machine"
    )


def _operations(requests: dict[str, float] | dict[str, int]) -> str:
    return ", ".join(f"{op} {n:g}" for op, n in sorted(requests.items())) or "none"


def first_token_table(summary: FirstTokenSummary) -> str:
    header = ["DynamoDB latency", "start ms (before)", "1st delta ms (before)", "DynamoDB requests per answer (before)"]
    before_requests = sum(BEFORE_DYNAMODB_REQUESTS.values())
    lines = []
    for row in summary.rows:
        before = BEFORE_FIRST_TOKEN_MS.get(row.ddb_latency_ms)
        start, delta = (f" ({value:.1f})" for value in before) if before else ("", "")
        ok = mark(row.requests <= measure.DYNAMODB_REQUESTS_PER_ANSWER_MAX)
        lines.append(
            [
                f"+{row.ddb_latency_ms:g} ms",
                f"{row.start_ms:.1f}{start}",
                f"{row.first_delta_ms:.1f}{delta}",
                f"{row.requests:g} {ok} ({before_requests}): {_operations(row.by_operation)}",
            ]
        )
    return table(header, lines, right=(1, 2))


def first_token_verdict(summary: FirstTokenSummary) -> list[str]:
    step, limit = measure.FIRST_TOKEN_DDB_STEP_MS, measure.FIRST_TOKEN_ADDED_MAX_MS
    before_low, before_high = BEFORE_FIRST_TOKEN_MS[0.0][1], BEFORE_FIRST_TOKEN_MS[step][1]
    before_added = before_high - before_low
    lines = []
    if summary.added_ms is not None:
        lines.append(
            f"0 → {step:g} ms per DynamoDB request adds {summary.added_ms:.1f} ms to the first delta "
            f"(≈ {summary.round_trips:.1f} sequential round trips) {mark(summary.added_ms <= limit)} "
            f"(goal ≤ {limit:g} ms; before {before_added:.1f} ms ≈ {before_added / step:.1f})"
        )
    polls = ", ".join(f"{row.control_polls:g} at +{row.ddb_latency_ms:g} ms" for row in summary.rows)
    lines.append(
        f"cancel/resume polls (BatchGetItem) counted apart, median per answer: {polls}; "
        f"in {summary.idle_window_s:g} s with no answer: {_operations(summary.idle_requests)}"
    )
    return lines


def cold_init_line(cold: ColdInit, runs: int) -> str:
    met = cold.ratio <= measure.COLD_INIT_RATIO_MAX
    data = cold.to_json()
    return (
        f"cold init, median of {runs} fresh interpreters: ours {data['ours_median_ms']:.0f} ms "
        f"(import lambdas.handlers.sendtext + 3 clients) vs bare {data['bare_median_ms']:.0f} ms "
        f"(import boto3 + 3 clients) = {cold.ratio:.2f}× {mark(met)} (goal ≤ {measure.COLD_INIT_RATIO_MAX:g}×); "
        f"fastest runs {data['ours_min_ms']:.0f} vs {data['bare_min_ms']:.0f} ms = {data['ratio_of_minimums']:.2f}×"
    )


def goal_summary(
    rows: Sequence[Row],
    cold: ColdInit | None,
    concurrency: ConcurrencyResult | None,
    first_token: FirstTokenSummary | None,
    crashed: dict[str, int],
) -> list[str]:
    """One line per goal for the default engine: met in every cell, or where it was not."""
    engine_rows = [row for row in rows if row.variant == ENGINE]
    names = {
        "completion_ratio": f"completion/generation ≤ {measure.COMPLETION_RATIO_MAX:g}",
        "posts": f"posts ≤ {measure.POSTS_SHARE_OF_BASELINE_MAX:g}× baseline",
        "lag_p95": f"lag p95 ≤ {measure.LAG_P95_MAX_MS:g} ms",
        "first_delta": f"first delta ≤ {measure.FIRST_DELTA_OVERHEAD_MAX_MS:g} ms beyond L",
        "correct": "every answer complete, ordered, exact",
    }
    lines = []
    for key, name in names.items() if engine_rows else ():
        missed = [row.cell.label for row in engine_rows if not row.checks().get(key, True)]
        verdict = PASS + " met in every cell" if not missed else FAIL + " not met at " + ", ".join(missed)
        lines.append(f"  {name:<42} {verdict}")
    if cold is not None:
        name = f"cold init ≤ {measure.COLD_INIT_RATIO_MAX:g}× bare boto3"
        lines.append(f"  {name:<42} {mark(cold.ratio <= measure.COLD_INIT_RATIO_MAX)} {cold.ratio:.2f}×")
    if concurrency is not None:
        for wave in concurrency.waves:
            s = wave.summary()
            ok = s["answers_correct"] == s["clients"]
            name = f"{s['clients']} clients, wave {wave.number}: delivered, ordered"
            lines.append(
                f"  {name:<42} {mark(ok)} {s['answers_correct']}/{s['clients']}; lag p95 "
                f"{_num(s['lag_ms']['p95'])} ms {mark(_at_most(s['lag_ms']['p95'], measure.LAG_P95_MAX_MS))}"
            )
    if first_token is not None:
        step = measure.FIRST_TOKEN_DDB_STEP_MS
        if first_token.added_ms is not None:
            name = f"first delta +≤ {measure.FIRST_TOKEN_ADDED_MAX_MS:g} ms at DynamoDB 0 → {step:g} ms"
            met = first_token.added_ms <= measure.FIRST_TOKEN_ADDED_MAX_MS
            lines.append(f"  {name:<42} {mark(met)} +{first_token.added_ms:.1f} ms")
        name = f"DynamoDB requests per answer ≤ {measure.DYNAMODB_REQUESTS_PER_ANSWER_MAX}"
        requests = first_token.requests_per_answer
        lines.append(f"  {name:<42} {mark(requests <= measure.DYNAMODB_REQUESTS_PER_ANSWER_MAX)} {requests:g}")
    total = sum(crashed.values())
    lines.append(f"  {'handler invocations that crashed':<42} {mark(not total)} {total} {crashed or ''}")
    return lines


def text(
    plan: BenchPlan,
    machine: dict[str, Any],
    rows: list[Row],
    sweeps: list[Tradeoff],
    concurrency: ConcurrencyResult | None,
    first_token: FirstTokenSummary | None,
    cold: ColdInit | None,
    crashed: dict[str, int],
) -> str:
    """The whole printed report, in the order the figures are read."""
    blocks = ["\n".join(title(plan, machine))]
    if rows:
        blocks.append(grid_table(rows) + "\n" + GOALS_LINE)
    for sweep in sweeps:
        blocks.append("\n".join([tradeoff_heading(sweep), tradeoff_table(sweep), *tradeoff_verdict(sweep)]))
    if sweeps:
        blocks[-1] += "\n" + TRADEOFF_NOTE
    if concurrency is not None:
        blocks.append(concurrency_heading(concurrency) + "\n" + concurrency_table(concurrency))
    if first_token is not None:
        lines = [first_token_heading(first_token), first_token_table(first_token), *first_token_verdict(first_token)]
        blocks.append("\n".join(lines))
    if cold is not None:
        blocks.append(cold_init_line(cold, plan.cold_init_runs))
    goals = goal_summary(rows, cold, concurrency, first_token, crashed)
    blocks.append("\n".join(["Goals for the relay's default engine:", *goals]))
    return "\n\n".join(blocks)


# results.json


def results_document(
    plan: BenchPlan,
    machine: dict[str, Any],
    elapsed_s: float,
    cold: ColdInit | None,
    runs: list[GridRun],
    rows: list[Row],
    sweeps: list[Tradeoff],
    concurrency: ConcurrencyResult | None,
    first_token: FirstTokenSummary | None,
    gateway: dict[str, Any],
) -> dict[str, Any]:
    return {
        "note": "SIMULATED model (localgw.simulator): a deterministic script paced like an LLM, not an LLM",
        "machine": machine,
        "elapsed_s": round(elapsed_s, 1),
        "plan": {
            "quick": plan.quick,
            "tokens": plan.tokens,
            "ttft_ms": plan.ttft_ms,
            "repeat": plan.repeat,
            "cells": [
                {"label": c.label, "rate": c.rate, "latency_ms": c.latency_ms, "variants": [v.name for v in c.variants]}
                for c in plan.cells
            ],
        },
        "goals": {
            "completion_ratio_max": measure.COMPLETION_RATIO_MAX,
            "posts_share_of_baseline_max": measure.POSTS_SHARE_OF_BASELINE_MAX,
            "lag_p95_max_ms": measure.LAG_P95_MAX_MS,
            "first_delta_overhead_max_ms": measure.FIRST_DELTA_OVERHEAD_MAX_MS,
            "cold_init_ratio_max": measure.COLD_INIT_RATIO_MAX,
            "first_delta_added_by_20ms_ddb_max_ms": measure.FIRST_TOKEN_ADDED_MAX_MS,
            "dynamodb_requests_per_answer_max": measure.DYNAMODB_REQUESTS_PER_ANSWER_MAX,
        },
        "summary": [row.to_json() for row in rows],
        "tradeoff": [sweep.to_json() for sweep in sweeps],
        "runs": [run.to_json() for run in runs],
        "concurrency": None if concurrency is None else concurrency.to_json(),
        "cold_init": None if cold is None else cold.to_json(),
        "first_token": None if first_token is None else {**first_token.to_json(), "before": before_json()},
        "gateway": gateway,
    }


def before_json() -> dict[str, Any]:
    return {
        "commit": BEFORE_COMMIT,
        "date": BEFORE_DATE,
        "rows": [
            {"ddb_latency_ms": latency, "start_ms_median": start, "first_delta_ms_median": delta}
            for latency, (start, delta) in BEFORE_FIRST_TOKEN_MS.items()
        ],
        "dynamodb_requests_per_answer": sum(BEFORE_DYNAMODB_REQUESTS.values()),
        "dynamodb_by_operation": BEFORE_DYNAMODB_REQUESTS,
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# results.png: delivery-lag CDFs (one panel per grid cell, plus the concurrency waves), posts per answer, and one
# posts-against-lag panel per coalescing-window sweep with the goals and the bound.

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
            labelled = {str(container.get_label()) for container in bars.containers}
            bars.bar(
                x,
                posts,
                width * 0.9,
                color=_colour(variant.name, names),
                label=None if variant.name in labelled else variant.name,
            )
            bars.annotate(f"{posts:.0f}", (x, posts), ha="center", va="bottom", fontsize=8)
        if baseline_posts is not None:
            goal = baseline_posts * measure.POSTS_SHARE_OF_BASELINE_MAX
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


def _decorate_cdf(ax: plt.Axes, title: str) -> None:
    ax.set_xscale("log")
    ax.axvline(measure.LAG_P95_MAX_MS, color="black", linestyle="--", linewidth=0.9, label="80 ms goal")
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

    share_goal, lag_goal = measure.POSTS_SHARE_OF_BASELINE_MAX, measure.LAG_P95_MAX_MS
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
        label = f"{window_ms(row.variant)} ms"
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8, bbox=LABEL_BOX)
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


# Usage and cost (bench.cost): one table per design side by side.

_COST_LINES = (
    ("api_messages", "API Gateway messages"),
    ("api_connection_minutes", "API Gateway connection minutes"),
    ("lambda_compute", "Lambda compute (arm64 GB-s)"),
    ("lambda_requests", "Lambda requests"),
    ("dynamodb_reads", "DynamoDB reads (on-demand)"),
    ("dynamodb_writes", "DynamoDB writes (on-demand)"),
    ("relay", "relay, without the model"),
    ("model", "model tokens"),
    ("total", "total, with the model"),
)


def cost_text(section: dict[str, Any]) -> str:
    designs = section["designs"]
    names = list(designs)
    lines = [
        f"Usage per answer and cost of {section['answers']:,} answers (us-east-1 list prices, see docs/capacity.md)"
    ]
    usage_rows = (
        ("@connections posts", lambda u: f"{u['frames']}"),
        ("bytes posted", lambda u: f"{u['frame_bytes']:,}"),
        ("API messages (32 KB units, both ways)", lambda u: f"{u['message_units'] + u['client_messages']}"),
        ("DynamoDB requests", lambda u: f"{u['dynamodb_requests']}"),
        ("DynamoDB RRU / WRU", lambda u: f"{u['dynamodb_read_units']:g} / {u['dynamodb_write_units']:g}"),
        ("Lambda GB-s", lambda u: f"{u['gb_seconds']:.3f}"),
        ("answer s", lambda u: f"{u['answer_s']:.2f}"),
    )
    width = max(len(name) for name in names) + 2
    lines.append(f"{'':<40}" + "".join(f"{name[: width - 2]:>{width}}" for name in names))
    for label, value in usage_rows:
        lines.append(f"{label:<40}" + "".join(f"{value(designs[n]['usage']):>{width}}" for n in names))
    for key, label in _COST_LINES:
        lines.append(
            f"{label:<40}" + "".join(f"{'$' + format(designs[n]['cost'][key], '.4f'):>{width}}" for n in names)
        )
    relay = designs.get("relay")
    if relay:
        first = {c["users"]: c["first_limit"] for c in relay["ceilings"]}
        lines.append(
            "relay ceilings (first limit hit): " + ", ".join(f"{n:,} users → {lim}" for n, lim in first.items())
        )
    return "\n".join(lines)


def cost_markdown(section: dict[str, Any]) -> str:
    """The cost table of docs/capacity.md, from results.json's `cost` section (pasted there after a run)."""
    designs = section["designs"]
    names = list(designs)
    rows = ["| one answer of 1,000 tokens | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    usage_rows = (
        ("@connections posts (frames)", lambda u: f"{u['frames']}"),
        ("bytes posted", lambda u: f"{u['frame_bytes']:,}"),
        (
            "API Gateway messages (32 KB units, question + frames)",
            lambda u: f"{u['message_units'] + u['client_messages']}",
        ),
        ("connection time (s, open → closed)", lambda u: f"{u['connection_s']:.1f}"),
        ("Lambda invocations", lambda u: f"{sum(u['lambda_invocations'].values())}"),
        ("Lambda time, ms (streaming function)", lambda u: f"{max(u['lambda_ms'].values()):,.0f}"),
        ("Lambda GB-s (all functions, as deployed)", lambda u: f"{u['gb_seconds']:.3f}"),
        ("DynamoDB requests", lambda u: f"{u['dynamodb_requests']}"),
        (
            "DynamoDB read / write request units",
            lambda u: f"{u['dynamodb_read_units']:g} / {u['dynamodb_write_units']:g}",
        ),
        ("moto's reported ConsumedCapacity", lambda u: f"{u['moto_reported_capacity_units']:g}"),
    )
    for label, value in usage_rows:
        rows.append(f"| {label} | " + " | ".join(value(designs[n]["usage"]) for n in names) + " |")
    rows.append(f"| **cost of {section['answers']:,} answers** |" + " |" * len(names))
    for key, label in _COST_LINES:
        cells = [f"${designs[n]['cost'][key]:.4f}" for n in names]
        if key in ("relay", "total"):
            label, cells = f"**{label}**", [f"**{cell}**" for cell in cells]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
