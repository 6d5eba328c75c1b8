"""The printed report: one table for the side-by-side grid, one per coalescing-window sweep (posts against lag, and
the bound), one for the concurrency waves, cold init, and a goal summary for the relay's default engine. Every ✓/✗
is computed, never typed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bench import goals
from bench.coldstart import ColdInit
from bench.concurrency import ConcurrencyResult
from bench.plan import ENGINE, BenchPlan, window_ms
from bench.summary import Row, Tradeoff

GOALS_LINE = (
    f"goals (relay rows): completion/generation ≤ {goals.COMPLETION_RATIO_MAX:g} · posts ≤ "
    f"{goals.POSTS_SHARE_OF_BASELINE_MAX:g}× baseline · lag p95 ≤ {goals.LAG_P95_MAX_MS:g} ms · first delta ≤ "
    f"{goals.FIRST_DELTA_OVERHEAD_MAX_MS:g} ms beyond L"
)


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
    return text if met is None else f"{text} {goals.mark(met)}"


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
        first = f"{_num(row.first_delta_ms, 1)} ({_num(row.first_delta_net_ms, 1)})"
        lines.append(
            [
                row.cell.label if row.cell != previous_cell else "",
                row.variant.name,
                _checked(
                    f"{_num(row.completion_ratio, 3)} ({_num(row.completion_s, 2)}/{_num(row.generation_s, 2)} s)",
                    row,
                    "completion_ratio",
                ),
                _checked(f"{_num(row.posts_per_1k, 0)}{share}", row, "posts"),
                _num(row.lag_p50_ms),
                _checked(_num(row.lag_p95_ms), row, "lag_p95"),
                _num(row.lag_max_ms),
                _checked(first, row, "first_delta"),
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
    lines = []
    for row in tradeoff.windows:
        window = window_ms(row.variant)
        lines.append(
            [
                f"{window}{' (default)' if row.variant == ENGINE else ''}",
                _num(row.frames_per_answer),
                _num(row.posts_per_1k),
                _checked(_num(row.posts_share_of_baseline, 2), row, "posts"),
                _num(row.lag_p50_ms),
                _checked(_num(row.lag_p95_ms), row, "lag_p95"),
                _num(row.lag_p95_bound_ms, 1),
                _num(row.lag_p95_even_bound_ms, 1),
            ]
        )
    return table(header, lines, right=(1, 2, 4, 6, 7))


def tradeoff_verdict(tradeoff: Tradeoff) -> list[str]:
    """What the bound says about both goals in this cell, in two lines."""
    at_goal = tradeoff.at_posts_goal
    share = goals.POSTS_SHARE_OF_BASELINE_MAX
    limit = goals.LAG_P95_MAX_MS
    if tradeoff.both_goals_possible:
        # The floor assumes a sender that knows every chunk in advance and adds no overhead: say how little room
        # that leaves rather than a bare ✓.
        margin = limit - at_goal.lag_p95_bound_ms
        verdict = f"{goals.PASS} both goals possible only for a sender within {margin:.1f} ms of this floor"
    else:
        verdict = f"{goals.FAIL} no sender meets both goals here"
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
                f"{s['answers_correct']}/{s['clients']} {goals.mark(s['answers_correct'] == s['clients'])}",
                _fmt(s["lag_ms"]["p50"]),
                f"{_fmt(s['lag_ms']['p95'])} {goals.mark(_le(s['lag_ms']['p95'], goals.LAG_P95_MAX_MS))}",
                _fmt(s["lag_ms"]["max"]),
                f"{_fmt(s['completion_ratio']['median'], 3)} / {_fmt(s['completion_ratio']['max'], 3)}",
                _fmt(s["frames_per_answer_median"]),
                _fmt(s["first_delta_ms"]["p95"]),
                f"{s['wall_s']:.1f}",
            ]
        )
    return table(header, lines, right=(2, 3, 4, 6, 7, 8))


def _fmt(value: Any, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _le(value: float | None, limit: float) -> bool:
    return value is not None and value <= limit


def cold_init_line(cold: ColdInit, runs: int) -> str:
    met = cold.ratio <= goals.COLD_INIT_RATIO_MAX
    data = cold.to_json()
    return (
        f"cold init, median of {runs} fresh interpreters: ours {data['ours_median_ms']:.0f} ms "
        f"(import lambdas.handlers.sendtext + 3 clients) vs bare {data['bare_median_ms']:.0f} ms "
        f"(import boto3 + 3 clients) = {cold.ratio:.2f}× {goals.mark(met)} (goal ≤ {goals.COLD_INIT_RATIO_MAX:g}×); "
        f"fastest runs {data['ours_min_ms']:.0f} vs {data['bare_min_ms']:.0f} ms = {data['ratio_of_minimums']:.2f}×"
    )


def goal_summary(rows: Sequence[Row], cold: ColdInit | None, concurrency: ConcurrencyResult | None) -> list[str]:
    """One line per goal for the default engine: met in every cell, or where it was not."""
    engine_rows = [row for row in rows if row.variant == ENGINE]
    names = {
        "completion_ratio": f"completion/generation ≤ {goals.COMPLETION_RATIO_MAX:g}",
        "posts": f"posts ≤ {goals.POSTS_SHARE_OF_BASELINE_MAX:g}× baseline",
        "lag_p95": f"lag p95 ≤ {goals.LAG_P95_MAX_MS:g} ms",
        "first_delta": f"first delta ≤ {goals.FIRST_DELTA_OVERHEAD_MAX_MS:g} ms beyond L",
        "correct": "every answer complete, ordered, exact",
    }
    lines = []
    for key, name in names.items():
        missed = [row.cell.label for row in engine_rows if not row.checks().get(key, True)]
        verdict = goals.PASS + " met in every cell" if not missed else goals.FAIL + " not met at " + ", ".join(missed)
        lines.append(f"  {name:<42} {verdict}")
    if cold is not None:
        lines.append(
            f"  {'cold init ≤ 1.3× bare boto3':<42} {goals.mark(cold.ratio <= goals.COLD_INIT_RATIO_MAX)} "
            f"{cold.ratio:.2f}×"
        )
    if concurrency is not None:
        for wave in concurrency.waves:
            s = wave.summary()
            ok = s["answers_correct"] == s["clients"]
            name = f"{s['clients']} clients, wave {wave.number}: delivered, ordered"
            lines.append(
                f"  {name:<42} {goals.mark(ok)} {s['answers_correct']}/{s['clients']}; lag p95 "
                f"{_fmt(s['lag_ms']['p95'])} ms {goals.mark(_le(s['lag_ms']['p95'], goals.LAG_P95_MAX_MS))}"
            )
    return lines


def title(plan: BenchPlan, machine: dict[str, Any]) -> list[str]:
    size = "QUICK (smoke-test sizes, numbers mean nothing)" if plan.quick else "full"
    return [
        f"Delivery benchmark ({size}) — SIMULATED model (localgw.simulator, not an LLM) behind localgw on 127.0.0.1",
        f"{plan.tokens}-token simulated answers, ttft {plan.ttft_ms:g} ms, {plan.repeat} repeat(s) per cell, variants "
        f"interleaved · {machine['node']} · {machine['cpu']} · {machine['cores']} cores · Python {machine['python']}",
        f"load average at start {machine.get('load_average_at_start')} (a shared machine: other work skews timings)",
    ]
