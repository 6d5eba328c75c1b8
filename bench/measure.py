"""From frames to figures: decoding what the client received, the per-answer metrics, the goals, the rows that fold
repeats together, the lag bounds and the coalescing-window trade-offs, and the first-token summary.

Every time is `time.monotonic()` in the benchmark process (the client's receive times, the simulator's emit times),
so differences are exact up to scheduling noise.

- completion ratio = (terminal frame received − request sent) / (simulator's last chunk written − request sent)
- posts per 1000 tokens = frames received × 1000 / output tokens (each @connections POST is exactly one frame)
- delivery lag of chunk i = time the client received the frame that made its received text at least as long as
  the end offset of chunk i − time the simulator wrote chunk i
- first-delta overhead = first text frame received − simulator's first chunk written (and the same minus L, the
  latency localgw adds to each POST, which no relay can avoid)
- lag bounds: the lowest lag percentile any sender could reach with a given number of posts (see `lag_bound_ms`)
- first token: `sendtext` sent → `start` and → first `delta` received with the model's first token at 0 ms, per
  DynamoDB latency, and the DynamoDB requests each answer makes (see `FirstTokenSummary`)
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import TYPE_CHECKING, Any

import numpy as np

from bench.plan import ENGINE, Cell, Protocol, Variant, window_ms

if TYPE_CHECKING:
    from bench.run import GridRun

# The goals, in one place so the tables, the JSON and the docs agree.
COMPLETION_RATIO_MAX = 1.03
"""Client receives the terminal frame ≤ 3 % after the simulated model's last chunk (both from the request send)."""
POSTS_SHARE_OF_BASELINE_MAX = 0.10
"""Posts per 1000 tokens ≤ 1/10 of the per-chunk baseline's."""
LAG_P95_MAX_MS = 80.0
"""95 % of the model's chunks are on the client ≤ 80 ms after the model wrote them."""
FIRST_DELTA_OVERHEAD_MAX_MS = 5.0
"""The first delta costs ≤ 5 ms more than the model's first token, beyond the @connections latency L itself."""
COLD_INIT_RATIO_MAX = 1.3
"""Handler import + its clients ≤ 1.3 × bare `import boto3` + the same clients, in a fresh interpreter."""
FIRST_TOKEN_DDB_STEP_MS = 20.0
FIRST_TOKEN_ADDED_MAX_MS = 45.0
"""Going from 0 to 20 ms per DynamoDB request adds ≤ 45 ms to the first delta: ≤ 2 sequential round trips."""
DYNAMODB_REQUESTS_PER_ANSWER_MAX = 7
"""DynamoDB requests one answer makes (the cancel/resume poll counted apart)."""

PASS, FAIL = "✓", "✗"


def mark(ok: bool) -> str:
    return PASS if ok else FAIL


def rounded(value: float | None, digits: int = 2) -> float | None:
    """For results.json: None for a missing or non-finite value."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


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


# What the client got. The relay's frames (docs/protocol.md) must have seq 0, 1, 2, ... with no gap, a start first
# and exactly one terminal last. The baseline's frames are seed 001's: one JSON string per model chunk, then
# `{"type": "done"}` (the baseline's only concession, so a client can tell the end).

RELAY_TERMINALS = ("done", "error")
GATEWAY_ERROR_KEYS = {"message", "connectionId", "requestId"}
"""API Gateway's own frame when a route's Lambda crashed ("Internal server error"): the answer is over, unfinished."""
TEXTLESS_FRAMES = 2
"""Frames of a relay answer that carry no text: the start and the terminal (`done`)."""


def is_gateway_error(frame: object) -> bool:
    return isinstance(frame, dict) and "type" not in frame and set(frame) == GATEWAY_ERROR_KEYS


@dataclass(frozen=True, slots=True)
class Received:
    """One frame as the WebSocket client got it."""

    t: float
    """`time.monotonic()` right after `recv()` returned it."""
    data: str


@dataclass(slots=True)
class Answer:
    """One answer, decoded."""

    sent_at: float
    frames: int = 0
    text: str = ""
    text_receipts: list[tuple[float, int]] = field(default_factory=list)
    """(receive time, characters of answer text received so far) for every frame that carried text."""
    start_at: float | None = None
    """When the relay's `start` frame arrived (the baseline sends none)."""
    terminal_at: float | None = None
    terminal: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    """Completeness or ordering faults; empty for a correct answer."""

    @property
    def first_text_at(self) -> float | None:
        return self.text_receipts[0][0] if self.text_receipts else None

    @property
    def ordered(self) -> bool:
        return not any(problem.startswith("order:") for problem in self.problems)

    @property
    def complete(self) -> bool:
        return self.terminal_at is not None and not any(problem.startswith("terminal:") for problem in self.problems)


def is_terminal(protocol: Protocol, data: str) -> bool:
    try:
        frame = json.loads(data)
    except ValueError:
        return False
    if not isinstance(frame, dict):
        return False
    if is_gateway_error(frame):
        return True
    if protocol == "baseline":
        return frame.get("type") == "done"
    return frame.get("type") in RELAY_TERMINALS and "seq" in frame


def decode(protocol: Protocol, sent_at: float, frames: list[Received], request_id: str | None = None) -> Answer:
    answer = Answer(sent_at=sent_at, frames=len(frames))
    if protocol == "baseline":
        _decode_baseline(answer, frames)
    else:
        _decode_relay(answer, frames, request_id)
    if answer.terminal_at is None:
        answer.problems.append("terminal: no terminal frame received")
    return answer


def _add_text(answer: Answer, t: float, text: str) -> None:
    if text:
        answer.text += text
        answer.text_receipts.append((t, len(answer.text)))


def _gateway_error(answer: Answer, received: Received, frame: object) -> bool:
    if not is_gateway_error(frame):
        return False
    assert isinstance(frame, dict)
    answer.terminal_at = received.t
    answer.problems.append(f"terminal: API Gateway's {frame['message']!r} frame: the handler crashed")
    return True


def _decode_baseline(answer: Answer, frames: list[Received]) -> None:
    for received in frames:
        value = json.loads(received.data)
        if _gateway_error(answer, received, value):
            continue
        if answer.terminal_at is not None:
            answer.problems.append("terminal: a frame after the done message")
        if isinstance(value, str):
            _add_text(answer, received.t, value)
        elif isinstance(value, dict) and value.get("type") == "done":
            answer.terminal_at, answer.terminal = received.t, value
        else:
            answer.problems.append(f"frame: unexpected baseline frame {received.data[:80]!r}")


def _decode_relay(answer: Answer, frames: list[Received], request_id: str | None) -> None:
    expected_seq = 0
    for index, received in enumerate(frames):
        frame = json.loads(received.data)
        if _gateway_error(answer, received, frame):
            continue
        kind = frame.get("type")
        if request_id is not None and frame.get("requestId") != request_id:
            answer.problems.append(f"frame: requestId {frame.get('requestId')!r} is not {request_id!r}")
        if frame.get("seq") != expected_seq:
            answer.problems.append(f"order: seq {frame.get('seq')} where {expected_seq} was due")
        expected_seq = (frame.get("seq") if isinstance(frame.get("seq"), int) else expected_seq) + 1
        if index == 0 and kind != "start":
            answer.problems.append(f"order: first frame is {kind!r}, not 'start'")
        if answer.terminal_at is not None:
            answer.problems.append(f"terminal: {kind!r} frame after the terminal frame")
        if kind == "delta":
            _add_text(answer, received.t, frame.get("text", ""))
        elif kind in RELAY_TERMINALS:
            answer.terminal_at, answer.terminal = received.t, frame
            if kind == "error":
                answer.problems.append(f"terminal: error frame {frame.get('code')}: {frame.get('message')}")
        elif kind == "start":
            answer.start_at = received.t if answer.start_at is None else answer.start_at
        else:
            answer.problems.append(f"frame: unexpected frame type {kind!r}")


# What the simulated model wrote, and one answer's metrics against it.


@dataclass(frozen=True, slots=True)
class ChunkEmit:
    chunk: int
    chars: int
    t: float
    planned: float


@dataclass(frozen=True, slots=True)
class SimRecord:
    """The parts of a localgw.simulator RequestRecord the benchmark reads (from `GET /_sim/requests`)."""

    last_user_text: str | None
    started_at: float
    outcome: str
    emits: tuple[ChunkEmit, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimRecord:
        emits = sorted(
            (ChunkEmit(int(e["chunk"]), int(e["chars"]), float(e["t"]), float(e["planned"])) for e in data["emits"]),
            key=lambda emit: emit.chunk,
        )
        return cls(data.get("last_user_text"), float(data["started_at"]), str(data["outcome"]), tuple(emits))


def chunk_lags(emits: Sequence[ChunkEmit], text_receipts: Sequence[tuple[float, int]]) -> list[float | None]:
    """Seconds from each chunk's write to the client holding all of its text; None if it never arrived."""
    received_chars = [chars for _, chars in text_receipts]
    lags: list[float | None] = []
    for emit, end in zip(emits, accumulate(emit.chars for emit in emits), strict=True):
        index = bisect.bisect_left(received_chars, end)
        lags.append(text_receipts[index][0] - emit.t if index < len(text_receipts) else None)
    return lags


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
            "completion_s": rounded(self.completion_s, 4),
            "generation_s": rounded(self.generation_s, 4),
            "completion_ratio": rounded(self.completion_ratio, 4),
            "frames": self.frames,
            "posts_per_1k_tokens": round(self.posts_per_1k_tokens, 2),
            "lag_ms": lag_percentiles(self.lags_ms, 2),
            "missing_chunks": self.missing_chunks,
            "first_delta_ms": rounded(self.first_delta_ms, 2),
            "first_delta_net_ms": rounded(self.first_delta_net_ms, 2),
            "simulator_drift_ms": rounded(self.simulator_drift_ms, 2),
            "lags_ms": [round(lag, 2) for lag in self.lags_ms],
            "text_span_s": rounded(self.text_span_s, 4),
            "chunk_at_ms": [round(t * 1000, 2) for t in self.chunk_times_s],
        }


def lag_percentiles(lags_ms: Sequence[float], digits: int) -> dict[str, float | None]:
    return {
        "p50": rounded(percentile(lags_ms, 50), digits),
        "p95": rounded(percentile(lags_ms, 95), digits),
        "max": rounded(max(lags_ms, default=math.nan), digits),
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


@dataclass(slots=True)
class Checked:
    """One answer judged against the simulator's plan: its metrics and whatever was wrong with it."""

    answer: Answer
    metrics: RunMetrics | None
    text_ok: bool
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.answer.complete,
            "ordered": self.answer.ordered,
            "text_matches_plan": self.text_ok,
            "problems": self.problems,
        }


def check(
    answer: Answer,
    planned_text: str,
    output_tokens: int,
    record: SimRecord | None,
    latency_ms: float,
    timed_out_after_s: float | None,
) -> Checked:
    """`timed_out_after_s`: how long the client waited for a terminal frame in vain (None: it came)."""
    problems = list(answer.problems)
    if timed_out_after_s is not None:
        problems.append(f"timeout: no terminal frame within {timed_out_after_s:g} s")
    metrics = None
    if record is None:
        problems.append("simulator: no finished record for this request")
    else:
        metrics = measure(answer, record, output_tokens, latency_ms)
        if metrics.missing_chunks:
            problems.append(f"completeness: {metrics.missing_chunks} chunk(s) never reached the client")
    text_ok = answer.text == planned_text
    if not text_ok:
        problems.append(f"text: {len(answer.text)} characters received, {len(planned_text)} planned, not equal")
    return Checked(answer, metrics, text_ok, problems)


# Repeats folded into one row per (cell, variant), and the goals checked on the relay's rows: per row the median over
# repeats of completion ratio, posts per 1000 tokens and first-delta overhead; delivery lag percentiles over every
# chunk of every repeat pooled (a p95 over ~1500 chunks, not a median of three p95s). The baseline is the yardstick
# for posts.


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
            "completion_ratio": self.completion_ratio <= COMPLETION_RATIO_MAX,
            "lag_p95": self.lag_p95_ms <= LAG_P95_MAX_MS,
            "first_delta": self.first_delta_net_ms <= FIRST_DELTA_OVERHEAD_MAX_MS,
            "correct": self.correct_runs == self.runs,
        }
        if self.posts_share_of_baseline is not None:
            result["posts"] = self.posts_share_of_baseline <= POSTS_SHARE_OF_BASELINE_MAX
        return result

    def to_json(self) -> dict[str, Any]:
        r = rounded
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
        row = Row(
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
        if row.is_relay:
            measured = [run.metrics for run in group if run.metrics is not None]
            row = replace(
                row,
                lag_p95_bound_ms=lag_bound_ms(
                    [m.chunk_times_s for m in measured], [m.frames for m in measured], cell.latency_ms
                ),
                lag_p95_even_bound_ms=even_text_lag_bound_ms(row.text_span_s, row.frames_per_answer, cell.latency_ms),
            )
        rows.append(row)
    return [_with_baseline_share(row, rows) for row in rows]


def _with_baseline_share(row: Row, rows: list[Row]) -> Row:
    baseline = next((r for r in rows if r.cell == row.cell and not r.is_relay), None)
    if not row.is_relay or baseline is None or not baseline.posts_per_1k:
        return row
    return replace(row, posts_share_of_baseline=row.posts_per_1k / baseline.posts_per_1k)


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
    gaps = [np.subtract.outer(times, times)[np.tril_indices(len(times))] for times, _ in paired]
    waits = np.unique(np.concatenate(gaps))
    low, high = 0, len(waits) - 1  # the widest gap, a run's whole span, is reachable: one post after its last chunk
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if reachable(waits[middle]) else (middle + 1, high)
    return float(waits[low]) * 1000 + latency_ms


# Trade-offs: cells that sweep the coalescing window get, per window, posts against lag, and the lowest lag p95 any
# sender could reach with that many posts, so the table and the plot show where the posts goal and the lag goal
# exclude each other.

CURVE_POINTS = 24


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
            "lag_p95_bound_ms": rounded(self.lag_p95_bound_ms),
            "lag_p95_even_bound_ms": rounded(self.lag_p95_even_bound_ms),
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
        return self.at_posts_goal.lag_p95_bound_ms <= LAG_P95_MAX_MS

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell.label,
            "baseline_frames_per_answer": rounded(self.baseline.frames_per_answer),
            "windows": [
                {
                    "variant": row.variant.name,
                    "window_ms": window_ms(row.variant),
                    "posts_per_1k_tokens_median": rounded(row.posts_per_1k),
                    "posts_share_of_baseline": rounded(row.posts_share_of_baseline),
                    "lag_p50_ms": rounded(row.lag_p50_ms),
                    "lag_p95_ms": rounded(row.lag_p95_ms),
                    "lag_p95_bound_ms": rounded(row.lag_p95_bound_ms),
                    "lag_p95_even_bound_ms": rounded(row.lag_p95_even_bound_ms),
                    "goals_met": {key: row.checks()[key] for key in ("posts", "lag_p95") if key in row.checks()},
                }
                for row in self.windows
            ],
            "at_posts_goal": self.at_posts_goal.to_json(),
            "lag_goal_min_frames": self.lag_goal_frames,
            "both_goals_possible": self.both_goals_possible,
            "curve": [point.to_json() for point in self.curve],
        }


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

    goal_frames = math.floor(POSTS_SHARE_OF_BASELINE_MAX * baseline.frames_per_answer)
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
    if point(high).lag_p95_bound_ms > LAG_P95_MAX_MS:
        return None
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if point(middle).lag_p95_bound_ms <= LAG_P95_MAX_MS else (middle + 1, high)
    return low


# First token. Every DynamoDB request made one after another before the model is called adds its latency to the
# first token, so the difference between two latencies tells how many sequential round trips stand in the way.
# localgw's tap counts every DynamoDB request of the process by operation; the relay's only BatchGetItem is the
# cancel/resume poll (one read per process every 250 ms while answers stream), so it is counted apart: how many land
# inside an answer depends on when the poller's clock ticks, not on the answer.

CONTROL_POLL_OPERATION = "BatchGetItem"


@dataclass(frozen=True, slots=True)
class FirstTokenRun:
    """One answer whose model writes its first token at once."""

    ddb_latency_ms: float
    start_ms: float
    """`sendtext` sent → `start` frame received."""
    first_delta_ms: float
    """`sendtext` sent → first `delta` frame received."""
    requests: dict[str, int]
    """DynamoDB requests per operation from the send until the answer's last write, polls included."""

    @property
    def answer_requests(self) -> dict[str, int]:
        return {op: n for op, n in self.requests.items() if op != CONTROL_POLL_OPERATION and n}

    @property
    def control_polls(self) -> int:
        return self.requests.get(CONTROL_POLL_OPERATION, 0)


@dataclass(frozen=True, slots=True)
class FirstTokenRow:
    """Medians of the runs at one DynamoDB latency."""

    ddb_latency_ms: float
    runs: int
    start_ms: float
    first_delta_ms: float
    requests: float
    """DynamoDB requests per answer, control polls excluded."""
    by_operation: dict[str, float]
    control_polls: float

    def to_json(self) -> dict[str, Any]:
        return {
            "ddb_latency_ms": self.ddb_latency_ms,
            "runs": self.runs,
            "start_ms_median": rounded(self.start_ms, 1),
            "first_delta_ms_median": rounded(self.first_delta_ms, 1),
            "dynamodb_requests_per_answer_median": self.requests,
            "dynamodb_by_operation_median": self.by_operation,
            "control_polls_per_answer_median": self.control_polls,
        }


@dataclass(frozen=True, slots=True)
class FirstTokenSummary:
    rows: tuple[FirstTokenRow, ...]
    idle_requests: dict[str, int]
    """DynamoDB requests during a window with no answer at all: traffic that is no answer's."""
    idle_window_s: float

    def row(self, ddb_latency_ms: float) -> FirstTokenRow | None:
        return next((row for row in self.rows if row.ddb_latency_ms == ddb_latency_ms), None)

    @property
    def added_ms(self) -> float | None:
        """What going from 0 to 20 ms per DynamoDB request adds to the first delta (medians)."""
        low, high = self.row(0.0), self.row(FIRST_TOKEN_DDB_STEP_MS)
        return None if low is None or high is None else high.first_delta_ms - low.first_delta_ms

    @property
    def round_trips(self) -> float | None:
        """`added_ms` in sequential DynamoDB round trips."""
        added = self.added_ms
        return None if added is None else added / FIRST_TOKEN_DDB_STEP_MS

    @property
    def requests_per_answer(self) -> float:
        return max((row.requests for row in self.rows), default=math.nan)

    def checks(self) -> dict[str, bool]:
        result = {"dynamodb_requests_per_answer": self.requests_per_answer <= DYNAMODB_REQUESTS_PER_ANSWER_MAX}
        if self.added_ms is not None:
            result["first_delta_added_by_ddb_latency"] = self.added_ms <= FIRST_TOKEN_ADDED_MAX_MS
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "what": "sendtext sent → start / first delta, first token at 0 ms; medians per DynamoDB latency",
            "rows": [row.to_json() for row in self.rows],
            "first_delta_added_ms": rounded(self.added_ms, 1),
            "sequential_round_trips": rounded(self.round_trips, 1),
            "idle_window_s": self.idle_window_s,
            "idle_window_requests": self.idle_requests,
            "goals_met": self.checks(),
        }


def summarize_first_token(
    runs: Sequence[FirstTokenRun], idle_requests: dict[str, int], idle_window_s: float
) -> FirstTokenSummary:
    rows = []
    for latency in sorted({run.ddb_latency_ms for run in runs}):
        mine = [run for run in runs if run.ddb_latency_ms == latency]
        operations = sorted({op for run in mine for op in run.answer_requests})
        rows.append(
            FirstTokenRow(
                ddb_latency_ms=latency,
                runs=len(mine),
                start_ms=median(run.start_ms for run in mine),
                first_delta_ms=median(run.first_delta_ms for run in mine),
                requests=median(sum(run.answer_requests.values()) for run in mine),
                by_operation={op: median(run.answer_requests.get(op, 0) for run in mine) for op in operations},
                control_polls=median(run.control_polls for run in mine),
            )
        )
    return FirstTokenSummary(tuple(rows), idle_requests, idle_window_s)
