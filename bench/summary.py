"""Repeats folded into one row per (cell, variant), and the goals checked on the relay's rows.

Per row: the median over repeats of completion ratio, posts per 1000 tokens and first-delta overhead; delivery
lag percentiles over every chunk of every repeat pooled (a p95 over ~1500 chunks, not a median of three p95s).
Goals are judged on the relay's variants only; the baseline is the yardstick for posts.

Cells that sweep the coalescing window also get a `Tradeoff`: per window, posts against lag, and the lowest lag p95
any sender could reach with that many posts (`bench.metrics.lag_bound_ms`), so the table and the plot show where
the posts goal and the lag goal exclude each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench import goals
from bench.grid import GridRun
from bench.metrics import TEXTLESS_FRAMES, even_text_lag_bound_ms, lag_bound_ms, median, percentile
from bench.plan import ENGINE, Cell, Variant, window_ms


@dataclass(frozen=True, slots=True)
class Row:
    cell: Cell
    variant: Variant
    runs: int
    correct_runs: int
    completion_ratio: float
    completion_ratio_max: float
    completion_s: float
    generation_s: float
    posts_per_1k: float
    lag_p50_ms: float
    lag_p95_ms: float
    lag_max_ms: float
    first_delta_ms: float
    first_delta_net_ms: float
    simulator_drift_ms: float
    posts_share_of_baseline: float | None = None
    frames_per_answer: float = math.nan
    """Median over repeats; every frame is one @connections post."""
    text_span_s: float = math.nan
    """Median over repeats of first chunk written → last chunk written."""
    lag_p95_bound_ms: float | None = None
    """Relay rows: the lowest pooled lag p95 any sender could reach with these runs' frame counts and chunk times."""
    lag_p95_even_bound_ms: float | None = None
    """Relay rows: 0.95 · T/(N − 2) + L on the medians, the same bound for text flowing evenly (no chunks)."""

    @property
    def is_relay(self) -> bool:
        return self.variant.protocol == "relay"

    def checks(self) -> dict[str, bool]:
        """Goal → met, for the relay's rows (empty for the baseline)."""
        if not self.is_relay:
            return {}
        result = {
            "completion_ratio": self.completion_ratio <= goals.COMPLETION_RATIO_MAX,
            "lag_p95": self.lag_p95_ms <= goals.LAG_P95_MAX_MS,
            "first_delta": self.first_delta_net_ms <= goals.FIRST_DELTA_OVERHEAD_MAX_MS,
            "correct": self.correct_runs == self.runs,
        }
        if self.posts_share_of_baseline is not None:
            result["posts"] = self.posts_share_of_baseline <= goals.POSTS_SHARE_OF_BASELINE_MAX
        return result

    def to_json(self) -> dict[str, Any]:
        r = _finite
        return {
            "cell": self.cell.label,
            "rate": self.cell.rate,
            "latency_ms": self.cell.latency_ms,
            "variant": self.variant.name,
            "coalesce_ms": self.variant.coalesce_ms,
            "runs": self.runs,
            "correct_runs": self.correct_runs,
            "completion_ratio_median": r(self.completion_ratio, 4),
            "completion_ratio_max": r(self.completion_ratio_max, 4),
            "completion_s_median": r(self.completion_s, 3),
            "generation_s_median": r(self.generation_s, 3),
            "posts_per_1k_tokens_median": r(self.posts_per_1k, 1),
            "posts_share_of_baseline": r(self.posts_share_of_baseline, 4),
            "lag_ms_pooled": {"p50": r(self.lag_p50_ms, 1), "p95": r(self.lag_p95_ms, 1), "max": r(self.lag_max_ms, 1)},
            "first_delta_ms_median": r(self.first_delta_ms, 2),
            "first_delta_net_of_latency_ms_median": r(self.first_delta_net_ms, 2),
            "simulator_drift_ms_max": r(self.simulator_drift_ms, 1),
            "goals_met": self.checks(),
            "window_ms": window_ms(self.variant),
            "frames_per_answer_median": r(self.frames_per_answer, 1),
            "text_span_s_median": r(self.text_span_s, 4),
            "lag_p95_bound_ms": {"chunks": r(self.lag_p95_bound_ms, 1), "even_text": r(self.lag_p95_even_bound_ms, 1)},
        }


def _values(runs: list[GridRun], name: str) -> list[float]:
    values = [getattr(run.metrics, name) for run in runs if run.metrics is not None]
    return [value for value in values if value is not None]


def summarize(runs: list[GridRun], cells: tuple[Cell, ...]) -> list[Row]:
    rows: list[Row] = []
    for cell, variant in [(c, v) for c in cells for v in c.variants]:
        group = [run for run in runs if run.cell == cell and run.variant == variant]
        if not group:
            continue
        lags = [lag for run in group if run.metrics for lag in run.metrics.lags_ms]
        ratios = _values(group, "completion_ratio")
        rows.append(
            Row(
                cell=cell,
                variant=variant,
                runs=len(group),
                correct_runs=sum(run.ok for run in group),
                completion_ratio=median(ratios),
                completion_ratio_max=max(ratios, default=math.nan),
                completion_s=median(_values(group, "completion_s")),
                generation_s=median(_values(group, "generation_s")),
                posts_per_1k=median(_values(group, "posts_per_1k_tokens")),
                lag_p50_ms=percentile(lags, 50),
                lag_p95_ms=percentile(lags, 95),
                lag_max_ms=max(lags, default=math.nan),
                first_delta_ms=median(_values(group, "first_delta_ms")),
                first_delta_net_ms=median(_values(group, "first_delta_net_ms")),
                simulator_drift_ms=max(_values(group, "simulator_drift_ms"), default=math.nan),
                frames_per_answer=median(_values(group, "frames")),
                text_span_s=median(_values(group, "text_span_s")),
            )
        )
        if variant.protocol == "relay":
            rows[-1] = _with_bounds(rows[-1], group)
    return [_with_baseline_share(row, rows) for row in rows]


def _with_bounds(row: Row, group: list[GridRun]) -> Row:
    measured = [run.metrics for run in group if run.metrics is not None]
    return replace(
        row,
        lag_p95_bound_ms=lag_bound_ms(
            [m.chunk_times_s for m in measured], [m.frames for m in measured], row.cell.latency_ms
        ),
        lag_p95_even_bound_ms=even_text_lag_bound_ms(row.text_span_s, row.frames_per_answer, row.cell.latency_ms),
    )


def _with_baseline_share(row: Row, rows: list[Row]) -> Row:
    baseline = next((r for r in rows if r.cell == row.cell and not r.is_relay), None)
    if not row.is_relay or baseline is None or not baseline.posts_per_1k:
        return row
    return replace(row, posts_share_of_baseline=row.posts_per_1k / baseline.posts_per_1k)


@dataclass(frozen=True, slots=True)
class BoundPoint:
    """The lowest lag p95 any sender could reach in a cell with `frames` frames per answer."""

    frames: int
    share_of_baseline: float
    lag_p95_bound_ms: float
    lag_p95_even_bound_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "share_of_baseline": round(self.share_of_baseline, 4),
            "lag_p95_bound_ms": _finite(self.lag_p95_bound_ms),
            "lag_p95_even_bound_ms": _finite(self.lag_p95_even_bound_ms),
        }


@dataclass(frozen=True, slots=True)
class Tradeoff:
    """One swept cell: posts against lag per coalescing window, and the bound both goals run into."""

    cell: Cell
    baseline: Row
    windows: tuple[Row, ...]
    """The relay's rows, shortest window first."""
    at_posts_goal: BoundPoint
    """The most frames per answer the posts goal allows, and the best lag p95 possible with them."""
    lag_goal_frames: int | None
    """The fewest frames per answer with which the lag goal is possible at all (None: not even with as many frames
    as the baseline's)."""
    curve: tuple[BoundPoint, ...]

    @property
    def both_goals_possible(self) -> bool:
        return self.at_posts_goal.lag_p95_bound_ms <= goals.LAG_P95_MAX_MS

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell.label,
            "baseline_frames_per_answer": _finite(self.baseline.frames_per_answer),
            "windows": [
                {
                    "variant": row.variant.name,
                    "window_ms": window_ms(row.variant),
                    "posts_per_1k_tokens_median": _finite(row.posts_per_1k),
                    "posts_share_of_baseline": _finite(row.posts_share_of_baseline),
                    "lag_p50_ms": _finite(row.lag_p50_ms),
                    "lag_p95_ms": _finite(row.lag_p95_ms),
                    "lag_p95_bound_ms": _finite(row.lag_p95_bound_ms),
                    "lag_p95_even_bound_ms": _finite(row.lag_p95_even_bound_ms),
                    "goals_met": {key: row.checks()[key] for key in ("posts", "lag_p95") if key in row.checks()},
                }
                for row in self.windows
            ],
            "at_posts_goal": self.at_posts_goal.to_json(),
            "lag_goal_min_frames": self.lag_goal_frames,
            "both_goals_possible": self.both_goals_possible,
            "curve": [point.to_json() for point in self.curve],
        }


def _finite(value: float | None, digits: int = 2) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


CURVE_POINTS = 24


def tradeoffs(rows: list[Row], runs: list[GridRun]) -> list[Tradeoff]:
    """A trade-off per swept cell that has a baseline row to measure posts against."""
    found = []
    for cell in dict.fromkeys(row.cell for row in rows if row.cell.swept):
        baseline = next((row for row in rows if row.cell == cell and not row.is_relay), None)
        windows = sorted(
            (row for row in rows if row.cell == cell and row.is_relay), key=lambda r: window_ms(r.variant) or 0
        )
        chunk_runs = _chunk_times_per_repeat(cell, runs)
        if baseline is None or not baseline.frames_per_answer or not chunk_runs:
            continue
        found.append(_tradeoff(cell, baseline, tuple(windows), chunk_runs))
    return found


def _chunk_times_per_repeat(cell: Cell, runs: list[GridRun]) -> list[tuple[float, ...]]:
    """One run's chunk times per repeat: every variant of a repeat asks the same question, so the model writes the
    same chunks; the default engine's runs are preferred, then any relay run."""
    ranked = sorted(
        (run.variant != ENGINE, run.variant.protocol != "relay", run.repeat, run.metrics.chunk_times_s)
        for run in runs
        if run.cell == cell and run.metrics and run.metrics.chunk_times_s
    )
    chosen: dict[int, tuple[float, ...]] = {}
    for *_, repeat, times in ranked:
        chosen.setdefault(repeat, times)
    return [chosen[repeat] for repeat in sorted(chosen)]


def _tradeoff(cell: Cell, baseline: Row, windows: tuple[Row, ...], chunk_runs: list[tuple[float, ...]]) -> Tradeoff:
    span = median(times[-1] for times in chunk_runs)

    def point(frames: int) -> BoundPoint:
        return BoundPoint(
            frames,
            frames / baseline.frames_per_answer,
            lag_bound_ms(chunk_runs, frames, cell.latency_ms),
            even_text_lag_bound_ms(span, frames, cell.latency_ms),
        )

    goal_frames = math.floor(goals.POSTS_SHARE_OF_BASELINE_MAX * baseline.frames_per_answer)
    highest = max([goal_frames * 3, *(round(row.frames_per_answer * 1.25) for row in windows if row.frames_per_answer)])
    return Tradeoff(
        cell=cell,
        baseline=baseline,
        windows=windows,
        at_posts_goal=point(goal_frames),
        lag_goal_frames=_fewest_frames_for_lag_goal(point, round(baseline.frames_per_answer)),
        # The posts goal's own count and the next one make the plotted step at the goal exact.
        curve=tuple(
            point(frames)
            for frames in sorted({*curve_frames(max(3, goal_frames // 4), highest), goal_frames, goal_frames + 1})
            if frames > TEXTLESS_FRAMES
        ),
    )


def curve_frames(lowest: int, highest: int, points: int = CURVE_POINTS) -> list[int]:
    """Frame counts spread evenly on a log scale (the plot's x axis), without repeats."""
    if highest <= lowest:
        return [lowest]
    ratio = (highest / lowest) ** (1 / (points - 1))
    return sorted({round(lowest * ratio**i) for i in range(points)})


def _fewest_frames_for_lag_goal(point: Callable[[int], BoundPoint], most: int) -> int | None:
    """The bound falls as frames grow, so a binary search finds the first count that meets the lag goal."""
    low, high = TEXTLESS_FRAMES + 1, max(most, TEXTLESS_FRAMES + 1)
    if point(high).lag_p95_bound_ms > goals.LAG_P95_MAX_MS:
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if point(middle).lag_p95_bound_ms <= goals.LAG_P95_MAX_MS else (middle + 1, high)
    return low
