"""Repeats folded into one row per (cell, variant), and the goals checked on the relay's rows.

Per row: the median over repeats of completion ratio, posts per 1000 tokens and first-delta overhead; delivery
lag percentiles over every chunk of every repeat pooled (a p95 over ~1500 chunks, not a median of three p95s).
Goals are judged on the relay's variants only; the baseline is the yardstick for posts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from bench import goals
from bench.grid import GridRun
from bench.metrics import median, percentile
from bench.plan import Cell, Variant


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
        def r(value: float | None, digits: int = 2) -> float | None:
            return None if value is None or math.isnan(value) else round(value, digits)

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
            )
        )
    return [_with_baseline_share(row, rows) for row in rows]


def _with_baseline_share(row: Row, rows: list[Row]) -> Row:
    baseline = next((r for r in rows if r.cell == row.cell and not r.is_relay), None)
    if not row.is_relay or baseline is None or not baseline.posts_per_1k:
        return row
    return replace(row, posts_share_of_baseline=row.posts_per_1k / baseline.posts_per_1k)
