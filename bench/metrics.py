"""The numbers, computed from one answer as the client received it and the simulator's record of what it wrote.

Both clocks are `time.monotonic()` in the same process, so differences are exact up to scheduling noise.

- completion ratio = (terminal frame received − request sent) / (simulator's last chunk written − request sent)
- posts per 1000 tokens = frames received × 1000 / output tokens (each @connections POST is exactly one frame)
- delivery lag of chunk i = time the client received the frame that made its received text at least as long as
  the end offset of chunk i − time the simulator wrote chunk i
- first-delta overhead = first text frame received − simulator's first chunk written (and the same minus L, the
  latency localgw adds to each POST, which no relay can avoid)
- lag bounds: the lowest lag percentile any sender could reach with a given number of posts (see `lag_bound_ms`)
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np

from bench.answers import Answer

TEXTLESS_FRAMES = 2
"""Frames of a relay answer that carry no text: the start and the terminal (`done`)."""


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
    chunk_times_s: tuple[float, ...] = ()
    """When the simulator wrote each chunk, seconds after it wrote the first: what the lag bounds are computed on."""

    @property
    def text_span_s(self) -> float | None:
        """First chunk written → last chunk written: the time text flows (generation time minus time to first token)."""
        return self.chunk_times_s[-1] if self.chunk_times_s else None

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
            "text_span_s": _round(self.text_span_s, 4),
            "chunk_at_ms": [round(t * 1000, 2) for t in self.chunk_times_s],
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
        chunk_times_s=tuple(emit.t - record.emits[0].t for emit in record.emits),
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


# Lag bounds. A chunk written at t goes out with the first post that starts at or after t and reaches the client L
# later, so its lag is at least (that post's start − t) + L whatever the sender does. Start and done carry no text,
# so an answer of N frames has N − 2 posts to carry every chunk.


def even_text_lag_bound_ms(text_span_s: float, frames: float, latency_ms: float, q: float = 95) -> float:
    """q/100 · T/(N − 2) + L: the bound when text flows evenly and continuously over T (no chunk boundaries).

    With k posts over T, the text waiting longer than w is at least T − k·w (each gap between posts holds at most w
    of text that waited ≤ w), so the q-th percentile wait is at least (q/100)·T/k. Real text comes in chunks: a
    sender that posts right after a chunk wastes no wait on the silence before the next one, so chunked text can
    beat this by up to about one chunk interval; `lag_bound_ms` is the bound for the actual chunks.
    """
    posts = frames - TEXTLESS_FRAMES
    if posts <= 0:
        return math.inf
    return q / 100 * text_span_s * 1000 / posts + latency_ms


def _posts_for_late(times: np.ndarray, wait_s: float, late_max: int) -> np.ndarray:
    """Entry e: the fewest posts that leave at most e of the chunks written at `times` waiting longer than wait_s.

    Every chunk that waits ≤ w lies in [s − w, s] for some post start s, so posts are intervals of length w laid on
    the sorted chunk times; one post may as well start an interval at the first chunk it covers. Dynamic programme
    over chunks: each chunk is either left late (e + 1) or opens an interval covering every chunk within w of it.
    """
    count = len(times)
    unreachable = count + 1
    best = np.full((count + 1, late_max + 1), unreachable, dtype=np.int64)
    best[0, 0] = 0
    # The waits tried are differences of these very times: without the nanosecond, t_i + (t_j − t_i) can round
    # below t_j and the interval would miss the chunk it was measured to.
    after = np.searchsorted(times, times + wait_s + 1e-9, side="right")
    for index in range(count):
        row = best[index]
        np.minimum(best[index + 1, 1:], row[:-1], out=best[index + 1, 1:])
        np.minimum(best[after[index]], row + 1, out=best[after[index]])
    return np.minimum.accumulate(best[count])


def _late_with(posts_for_late: np.ndarray, posts: int) -> int:
    """Fewest late chunks reachable with `posts` posts (len(posts_for_late) when even the allowance is not)."""
    reachable = np.nonzero(posts_for_late <= posts)[0]
    return int(reachable[0]) if reachable.size else len(posts_for_late)


def _late_allowed(chunk_count: int, q: float) -> int:
    """Chunks that may wait longer than the percentile: `percentile` interpolates upwards from the value at index
    floor(q/100 · (n − 1)), so that value and every one below it must be within the bound."""
    return chunk_count - (math.floor(q / 100 * (chunk_count - 1)) + 1)


def lag_bound_ms(
    runs: Sequence[Sequence[float]], frames: int | Sequence[int], latency_ms: float, q: float = 95
) -> float:
    """A lower bound on the pooled q-th percentile lag of any sender delivering each run in `runs` (chunk write
    times, seconds) in `frames` frames (one count for all, or one per run): one post at a time or many, even one
    knowing in advance when each chunk comes. Runs pool as in `percentile`. Tight but for one relaxation: chunks left
    late after the last post are not charged the post that must still carry them.
    """
    per_run = [frames] * len(runs) if isinstance(frames, int) else list(frames)
    paired = [(np.asarray(times, dtype=float), n - TEXTLESS_FRAMES) for times, n in zip(runs, per_run, strict=True)]
    paired = [(times, posts) for times, posts in paired if len(times)]
    if not paired or any(posts <= 0 for _, posts in paired):
        return math.inf
    late_max = _late_allowed(sum(len(times) for times, _ in paired), q)

    def reachable(wait_s: float) -> bool:
        late = sum(_late_with(_posts_for_late(times, wait_s, late_max), posts) for times, posts in paired)
        return late <= late_max

    # The best wait is the gap between two chunks of a run (widening an interval helps only once it reaches another
    # chunk), so a binary search over those gaps is exact.
    waits = _chunk_gaps([times for times, _ in paired])
    low, high = 0, len(waits) - 1  # the widest gap, a run's whole span, is reachable: one post after its last chunk
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if reachable(waits[middle]) else (middle + 1, high)
    return float(waits[low]) * 1000 + latency_ms


def _chunk_gaps(chunk_runs: Sequence[np.ndarray]) -> np.ndarray:
    """Every t_j − t_i (j ≥ i) within a run, sorted, without repeats."""
    gaps = [np.subtract.outer(times, times)[np.tril_indices(len(times))] for times in chunk_runs]
    return np.unique(np.concatenate(gaps))
