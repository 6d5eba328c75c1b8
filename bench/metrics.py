"""The numbers, computed from one answer as the client received it and the simulator's record of what it wrote.

Both clocks are `time.monotonic()` in the same process, so differences are exact up to scheduling noise.

- completion ratio = (terminal frame received − request sent) / (simulator's last chunk written − request sent)
- posts per 1000 tokens = frames received × 1000 / output tokens (each @connections POST is exactly one frame)
- delivery lag of chunk i = time the client received the frame that made its received text at least as long as
  the end offset of chunk i − time the simulator wrote chunk i
- first-delta overhead = first text frame received − simulator's first chunk written (and the same minus L, the
  latency localgw adds to each POST, which no relay can avoid)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from bench.answers import Answer


@dataclass(frozen=True, slots=True)
class ChunkEmit:
    chunk: int
    chars: int
    t: float
    planned: float


@dataclass(frozen=True, slots=True)
class SimRecord:
    """The parts of a localgw.simulator RequestRecord the benchmark reads (from `GET /_sim/requests`)."""

    id: str
    last_user_text: str | None
    started_at: float
    ended_at: float | None
    outcome: str
    chunks_planned: int
    emits: tuple[ChunkEmit, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimRecord:
        emits = sorted(
            (ChunkEmit(int(e["chunk"]), int(e["chars"]), float(e["t"]), float(e["planned"])) for e in data["emits"]),
            key=lambda emit: emit.chunk,
        )
        return cls(
            id=str(data["id"]),
            last_user_text=data.get("last_user_text"),
            started_at=float(data["started_at"]),
            ended_at=None if data.get("ended_at") is None else float(data["ended_at"]),
            outcome=str(data["outcome"]),
            chunks_planned=int(data.get("chunks_planned") or 0),
            emits=tuple(emits),
        )


def chunk_lags(emits: Sequence[ChunkEmit], text_receipts: Sequence[tuple[float, int]]) -> list[float | None]:
    """Seconds from each chunk's write to the client holding all of its text; None if it never arrived."""
    received_chars = [chars for _, chars in text_receipts]
    lags: list[float | None] = []
    for emit, end in zip(emits, accumulate(emit.chars for emit in emits), strict=True):
        index = bisect.bisect_left(received_chars, end)
        lags.append(text_receipts[index][0] - emit.t if index < len(text_receipts) else None)
    return lags


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), q in 0..100; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    return percentile(list(values), 50)


@dataclass(frozen=True, slots=True)
class RunMetrics:
    completion_s: float | None
    generation_s: float | None
    completion_ratio: float | None
    frames: int
    posts_per_1k_tokens: float
    lags_ms: list[float]
    missing_chunks: int
    first_delta_ms: float | None
    first_delta_net_ms: float | None
    simulator_drift_ms: float | None
    """Latest chunk write behind its planned time: a large value means the model side was slowed (back-pressure)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "completion_s": _round(self.completion_s, 4),
            "generation_s": _round(self.generation_s, 4),
            "completion_ratio": _round(self.completion_ratio, 4),
            "frames": self.frames,
            "posts_per_1k_tokens": round(self.posts_per_1k_tokens, 2),
            "lag_ms": {
                "p50": _round(percentile(self.lags_ms, 50), 2),
                "p95": _round(percentile(self.lags_ms, 95), 2),
                "max": _round(max(self.lags_ms, default=math.nan), 2),
            },
            "missing_chunks": self.missing_chunks,
            "first_delta_ms": _round(self.first_delta_ms, 2),
            "first_delta_net_ms": _round(self.first_delta_net_ms, 2),
            "simulator_drift_ms": _round(self.simulator_drift_ms, 2),
            "lags_ms": [round(lag, 2) for lag in self.lags_ms],
        }


def measure(answer: Answer, record: SimRecord, output_tokens: int, latency_ms: float) -> RunMetrics:
    last_emit = record.emits[-1].t if record.emits else None
    completion = None if answer.terminal_at is None else answer.terminal_at - answer.sent_at
    generation = None if last_emit is None else last_emit - answer.sent_at
    lags = chunk_lags(record.emits, answer.text_receipts)
    first_delta = (
        None if answer.first_text_at is None or not record.emits else (answer.first_text_at - record.emits[0].t) * 1000
    )
    return RunMetrics(
        completion_s=completion,
        generation_s=generation,
        completion_ratio=None if completion is None or not generation else completion / generation,
        frames=answer.frames,
        posts_per_1k_tokens=answer.frames * 1000 / output_tokens if output_tokens else math.nan,
        lags_ms=[lag * 1000 for lag in lags if lag is not None],
        missing_chunks=sum(lag is None for lag in lags),
        first_delta_ms=first_delta,
        first_delta_net_ms=None if first_delta is None else first_delta - latency_ms,
        simulator_drift_ms=max(
            ((emit.t - record.started_at - emit.planned) * 1000 for emit in record.emits), default=None
        ),
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)
