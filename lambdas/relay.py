"""One answer, from the provider's events to the delivery engine, with the guards a Lambda needs.

The provider is read on its own thread so that this loop wakes at least every `tick_s` even while the model is
silent: the Lambda time guard, the gone grace period (and later cancel checks) never wait on the model. Stopping
early closes the provider's generator, which closes the upstream HTTP response so the model stops billing.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass

from lambdas import protocol
from lambdas.delivery.engine import Delivery
from lambdas.delivery.poster import Poster
from lambdas.observability import logger
from lambdas.protocol import ErrorCode, StopReason
from lambdas.providers.events import ErrorKind, Event, Stop, TextDelta, UpstreamError
from lambdas.providers.upstream import STREAM_ENDED_EARLY
from lambdas.store.answers import Control

ERROR_CODES: dict[ErrorKind, ErrorCode] = {
    ErrorKind.THROTTLED: ErrorCode.THROTTLED,
    ErrorKind.UNAVAILABLE: ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorKind.MODEL_ERROR: ErrorCode.MODEL_ERROR,
    ErrorKind.VALIDATION: ErrorCode.BAD_REQUEST,
    ErrorKind.ACCESS_DENIED: ErrorCode.MODEL_ERROR,
    ErrorKind.INTERNAL: ErrorCode.INTERNAL,
}

_END = object()  # the reader thread's last item: the provider's iterator is exhausted

ControlReader = Callable[[Collection[str]], Mapping[str, Control]]
"""Reads what was asked of the given answers (cancel, resume): `lambdas.store.answers.poll_controls`."""


@dataclass(frozen=True, slots=True)
class Guards:
    """What watches over an answer besides the model: time, the client's presence, cancel and resume."""

    remaining_ms: Callable[[], int]
    """The Lambda's remaining time (`context.get_remaining_time_in_millis`)."""
    time_guard_ms: int = 5000
    """Below this much remaining time, end the answer with stopReason `time_limit`."""
    gone_grace_s: float = 10.0
    """How long to keep reading the model after the client is gone (room for a resume)."""
    tick_s: float = 0.25
    control: ControlReader | None = None
    """Reads cancel and resume requests (a table read): every `control_interval_s`, for all answers of the process
    at once."""
    control_interval_s: float = 0.25
    resume_to: Callable[[str], Poster] | None = None
    """A poster for a connection id, for resumes."""
    on_end: Callable[[Outcome, str], None] | None = None
    """Called with the outcome and the answer's whole text right before the terminal frame is queued."""


@dataclass(slots=True)
class Outcome:
    """What happened to one answer: the figures of the per-answer log line and metrics."""

    status: str = "done"
    """`done`, `error`, `gone` (client left, upstream closed) or `delivery_failed`."""
    stop_reason: str | None = None
    error_code: str | None = None
    upstream_error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    first_token_at: float | None = None
    text_chars: int = 0
    upstream_closed_early: bool = False
    resume_nonce: int = 0
    """The last resume request served (requests carry increasing nonces)."""


class _Reader:
    """Pulls provider events on a thread of its own into a queue; closes the provider when asked to stop."""

    def __init__(self, events: Iterator[Event]) -> None:
        self.queue: queue.Queue[object] = queue.Queue()
        self._events = events
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="upstream-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self._events:
                if self._stop.is_set():
                    break
                self.queue.put(event)
        except Exception as exc:  # a provider must not raise; if one does, it is an internal error, not a hang
            self.queue.put(UpstreamError(ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}"))
        finally:
            with contextlib.suppress(Exception):
                self._events.close()  # type: ignore[attr-defined]
            self.queue.put(_END)

    def stop(self) -> None:
        self._stop.set()


def relay(
    events: Iterator[Event],
    delivery: Delivery,
    guards: Guards,
    *,
    started_at: float,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Feed one answer's events to `delivery` until a terminal event, the time guard, or the client's departure."""
    answer = _Answer(delivery, guards, started_at, clock)
    reader = _Reader(events)
    while True:
        try:
            item = reader.queue.get(timeout=guards.tick_s)
        except queue.Empty:
            item = None
        if answer.handle(item) or answer.guard_stops():
            break
    answer.close()
    if not answer.ended_by_upstream:
        answer.outcome.upstream_closed_early = True
        reader.stop()
    if delivery.gone and answer.outcome.status == "done":
        answer.outcome.status = "gone"
    return answer.outcome


class _ControlBoard:
    """Cancel and resume requests for every answer of this process that uses one reader, read on one thread.

    The reads happen off the relay loop, so a slow table read never stalls an answer's text. And one read every
    interval serves all answers at once: on Lambda an execution environment streams one answer at a time, so
    nothing changes there, but where many answers share a process (localgw runs every invocation in one) a thread
    and a read per answer made hundreds of threads and requests a second for no new information.
    """

    def __init__(self, read: ControlReader, interval_s: float) -> None:
        self._read = read
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._latest: dict[str, Control] = {}
        self._thread: threading.Thread | None = None

    def watch(self, request_id: str) -> None:
        with self._lock:
            self._latest[request_id] = Control()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="answer-control", daemon=True)
                self._thread.start()

    def latest(self, request_id: str) -> Control:
        return self._latest.get(request_id, Control())

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._latest.pop(request_id, None)

    def _run(self) -> None:
        while True:
            time.sleep(self._interval_s)
            with self._lock:
                request_ids = list(self._latest)
                if not request_ids:
                    self._thread = None  # the next watch() starts a new thread: none idles between answers
                    return
            try:
                found = self._read(request_ids)
            except Exception:  # a failed read must not end any answer: the next one may succeed
                logger.warning("cancel/resume check failed", exc_info=True)
                continue
            with self._lock:
                for request_id, control in found.items():
                    if request_id in self._latest:  # not an answer that ended during the read
                        self._latest[request_id] = control


_boards: dict[tuple[ControlReader, float], _ControlBoard] = {}
_boards_lock = threading.Lock()


def _board(read: ControlReader, interval_s: float) -> _ControlBoard:
    """The process's board for this reader and interval (sendtext always passes the same two)."""
    with _boards_lock:
        board = _boards.get((read, interval_s))
        if board is None:
            board = _boards[(read, interval_s)] = _ControlBoard(read, interval_s)
        return board


class _Answer:
    """The state of one answer while its events are relayed."""

    def __init__(self, delivery: Delivery, guards: Guards, started_at: float, clock: Callable[[], float]) -> None:
        self.delivery = delivery
        self.guards = guards
        self.started_at = started_at
        self.clock = clock
        self.outcome = Outcome()
        self.ended_by_upstream = False
        self._gone_since: float | None = None
        self._text: list[str] = []
        self._board = None if guards.control is None else _board(guards.control, guards.control_interval_s)
        if self._board is not None:
            self._board.watch(delivery.request_id)

    def handle(self, item: object) -> bool:
        """Relay one reader item; True when it ended the answer."""
        outcome = self.outcome
        if isinstance(item, TextDelta):
            if outcome.first_token_at is None:
                outcome.first_token_at = self.clock()
            outcome.text_chars += len(item.text)
            self._text.append(item.text)
            self.delivery.text(item.text)
            return False
        if isinstance(item, Stop):
            outcome.input_tokens, outcome.output_tokens = item.input_tokens, item.output_tokens
            self._finish_done(item.reason)
            self.ended_by_upstream = True
            return True
        if isinstance(item, UpstreamError) or item is _END:
            error = (
                item if isinstance(item, UpstreamError) else UpstreamError(ErrorKind.UNAVAILABLE, STREAM_ENDED_EARLY)
            )
            self._finish_error(error)
            self.ended_by_upstream = True
            return True
        return False  # Start, ReasoningDelta (never sent as answer text), or a tick with no event

    def guard_stops(self) -> bool:
        """Check the guards that do not depend on the model; True when one ended the answer."""
        if self._cancelled_or_resumed():
            return True
        if self.delivery.failed:
            self.outcome.status = "delivery_failed"
            return True
        if self.delivery.gone:
            now = self.clock()
            self._gone_since = now if self._gone_since is None else self._gone_since
            if now - self._gone_since >= self.guards.gone_grace_s:
                self.outcome.status = "gone"
                # Completes the journal, so a resume after the grace still ends with exactly one terminal frame.
                self._finish_error_code(ErrorCode.CONNECTION_LOST, _CONNECTION_LOST_MESSAGE, retryable=True)
                return True
        if self.guards.remaining_ms() <= self.guards.time_guard_ms:
            self._finish_done(StopReason.TIME_LIMIT)
            return True
        return False

    def _cancelled_or_resumed(self) -> bool:
        """Serve a new resume request; True if the answer was cancelled."""
        if self._board is None:
            return False
        control = self._board.latest(self.delivery.request_id)
        if control.resume_nonce > self.outcome.resume_nonce and control.resume_connection and self.guards.resume_to:
            self.outcome.resume_nonce = control.resume_nonce
            self.delivery.retarget(self.guards.resume_to(control.resume_connection), control.resume_after)
            self._gone_since = None
        if control.cancel:
            self.outcome.status = "cancelled"
            self._finish_done(StopReason.CANCELLED)
            return True
        return False

    def close(self) -> None:
        if self._board is not None:
            self._board.forget(self.delivery.request_id)

    def _ended(self) -> None:
        if self.guards.on_end is not None:
            try:
                self.guards.on_end(self.outcome, "".join(self._text))
            except Exception:  # storing history must never cost the client its terminal frame
                logger.exception("storing the answer failed")

    def _ms_since_start(self) -> int:
        return round((self.clock() - self.started_at) * 1000)

    def _first_token_ms(self) -> int | None:
        first = self.outcome.first_token_at
        return None if first is None else round((first - self.started_at) * 1000)

    def _finish_done(self, reason: str) -> None:
        outcome = self.outcome
        outcome.stop_reason = reason
        request_id = self.delivery.request_id
        self._ended()
        self.delivery.finish(
            lambda seq: protocol.done_frame(
                request_id,
                seq,
                reason,
                outcome.input_tokens,
                outcome.output_tokens,
                self._first_token_ms(),
                self._ms_since_start(),
            )
        )

    def _finish_error(self, error: UpstreamError) -> None:
        self.outcome.status = "error"
        self.outcome.upstream_error = error.upstream_code
        self._finish_error_code(ERROR_CODES[error.kind], _client_message(error), retryable=error.retryable)

    def _finish_error_code(self, code: ErrorCode, message: str, *, retryable: bool) -> None:
        self.outcome.error_code = code
        request_id = self.delivery.request_id
        self._ended()
        self.delivery.finish(
            lambda seq: protocol.error_frame(code, message, request_id=request_id, seq=seq, retryable=retryable)
        )


_CONNECTION_LOST_MESSAGE = "The connection was lost for longer than the grace period; the answer was stopped."


def _client_message(error: UpstreamError) -> str:
    """What the client is told: the kind of failure, without upstream internals (ARNs, account ids)."""
    return {
        ErrorKind.THROTTLED: "The model is busy (throttled); try again shortly.",
        ErrorKind.UNAVAILABLE: "The model is unavailable right now; try again shortly.",
        ErrorKind.MODEL_ERROR: "The model failed while answering.",
        ErrorKind.VALIDATION: f"The model rejected the request: {error.message[:300]}",
        ErrorKind.ACCESS_DENIED: "The relay is not allowed to call this model.",
        ErrorKind.INTERNAL: "The relay failed while reading the model's answer.",
    }[error.kind]
