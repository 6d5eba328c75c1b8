"""The relay loop: one answer, from the provider's events to the delivery engine, with the guards a Lambda needs.

The provider is read on its own thread so that this loop wakes at least every `tick_s` even while the model is
silent: the Lambda time guard, the gone grace period and cancel requests never wait on the model. Stopping early
closes the provider's generator, which closes the upstream HTTP response so the model stops billing.

Usage the model did not report (an upstream format without it, an answer that ended before the model's usage event)
is estimated from the generated text, so the daily token quota always charges what was generated.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from lambdas import protocol
from lambdas.answer.content import V2_EVENTS, AnswerContent
from lambdas.answer.control import Resumes, Watch
from lambdas.observability import in_this_invocation, logger
from lambdas.protocol import ErrorCode, StopReason
from lambdas.providers.content import ReasoningBlock, ToolCall
from lambdas.providers.events import ErrorKind, Event, Stop, TextDelta, UpstreamError
from lambdas.providers.upstream import STREAM_ENDED_EARLY

_END = object()  # the reader thread's last item: the provider's iterator is exhausted

CHARS_PER_TOKEN_ESTIMATE = 3
"""For output the model did not count: the tokenizers of the served models average 3.5 to 4.5 characters a token
on English prose and code, so counting a token per 3 characters (rounded up) charges a little more than was
generated, never much less; cancelling or picking a model that reports no usage cannot make output free."""


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN_ESTIMATE)


class AnswerSink(Protocol):
    """Where the relay loop sends an answer: the WebSocket's `lambdas.delivery.engine.Delivery`, or an HTTP response
    (`lambdas.openai_http.answer`)."""

    @property
    def request_id(self) -> str: ...

    @property
    def gone(self) -> bool:
        """The client left."""
        ...

    @property
    def failed(self) -> bool:
        """Sending failed for good."""
        ...

    def text(self, text: str) -> None: ...

    def reasoning(self, text: str) -> None: ...

    def frame(self, build: Callable[[int], dict[str, Any]]) -> None:
        """A whole frame (protocol v2: `tool_use`, redacted reasoning), built from its `seq`."""
        ...

    def finish(self, build_terminal: Callable[[int], dict[str, Any]]) -> None:
        """Queue the terminal frame, built from its `seq`."""
        ...


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
    control: Watch | None = None
    """The answer's cancel and resume requests (`ControlWatcher.watch`); closed when the answer ends."""
    resumes: Resumes | None = None
    """Serves resume requests by moving the answer to the new connection."""
    on_end: Callable[[Outcome, str], None] | None = None
    """Called with the outcome and the answer's whole text right before the terminal frame is queued."""
    usage_cache: bool = False
    """List the prompt-cache counts in `done` even when the upstream gave none (a protocol v2 request)."""


@dataclass(slots=True)
class Outcome:
    """What happened to one answer: the figures of the per-answer log line and metrics."""

    status: str = "done"
    """`done`, `error`, `cancelled`, `gone` (client left, upstream closed) or `delivery_failed`."""
    stop_reason: str | None = None
    error_code: str | None = None
    upstream_error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated: tuple[str, ...] = ()
    """The usage counts (`outputTokens`) estimated by the relay because the model did not report them."""
    first_token_at: float | None = None
    text_chars: int = 0
    generated_chars: int = 0
    """Answer text and reasoning: what the model generated, the basis of an estimate."""
    upstream_closed_early: bool = False
    resume_nonce: int = 0
    """The last resume request served (requests carry increasing nonces)."""
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    """Protocol v2: the answer's complete tool calls, stored with its turn."""
    reasoning: tuple[ReasoningBlock, ...] = ()
    """Protocol v2: the answer's reasoning blocks (with their signatures), stored with its turn."""


class _Reader:
    """Pulls provider events on a thread of its own into a queue; closes the provider when asked to stop."""

    def __init__(self, events: Iterator[Event]) -> None:
        self.queue: queue.Queue[object] = queue.Queue()
        self._events = events
        self._stop = threading.Event()
        self._thread = threading.Thread(target=in_this_invocation(self._run), name="upstream-reader", daemon=True)
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
    delivery: AnswerSink,
    guards: Guards,
    *,
    started_at: float,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Feed one answer's events to `delivery` until a terminal event, the time guard, or the client's departure."""
    answer = _Answer(delivery, guards, started_at, clock)
    reader = _Reader(events)
    try:
        while True:
            try:
                item = reader.queue.get(timeout=guards.tick_s)
            except queue.Empty:
                item = None
            if answer.handle(item) or answer.guard_stops():
                break
    finally:
        answer.close()
    if not answer.ended_by_upstream:
        answer.outcome.upstream_closed_early = True
        reader.stop()
    if delivery.gone and answer.outcome.status == "done":
        answer.outcome.status = "gone"
    return answer.outcome


class _Answer:
    """The state of one answer while its events are relayed."""

    def __init__(self, delivery: AnswerSink, guards: Guards, started_at: float, clock: Callable[[], float]) -> None:
        self.delivery = delivery
        self.guards = guards
        self.started_at = started_at
        self.clock = clock
        self.outcome = Outcome()
        self.ended_by_upstream = False
        self._gone_since: float | None = None
        self._text: list[str] = []
        self.content = AnswerContent(delivery)

    def handle(self, item: object) -> bool:
        """Relay one reader item; True when it ended the answer."""
        outcome = self.outcome
        if isinstance(item, TextDelta):
            if outcome.first_token_at is None:
                outcome.first_token_at = self.clock()
            outcome.text_chars += len(item.text)
            outcome.generated_chars += len(item.text)
            self._text.append(item.text)
            self.delivery.text(item.text)
            return False
        if isinstance(item, V2_EVENTS):
            if outcome.first_token_at is None:
                outcome.first_token_at = self.clock()
            failure = self.content.add(item)
            if failure is not None:
                self._finish_error(failure)
                return True
            return False
        if isinstance(item, Stop):
            outcome.input_tokens, outcome.output_tokens = item.input_tokens, item.output_tokens
            outcome.cache_read_input_tokens = item.cache_read_input_tokens
            outcome.cache_write_input_tokens = item.cache_write_input_tokens
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
        return False  # Start, or a tick with no event

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
        if self.guards.control is None:
            return False
        control = self.guards.control.latest()
        if self.guards.resumes is not None and self.guards.resumes.serve(control):
            self.outcome.resume_nonce = self.guards.resumes.served_nonce
            self._gone_since = None
        if control.cancel:
            self.outcome.status = "cancelled"
            self._finish_done(StopReason.CANCELLED)
            return True
        return False

    def close(self) -> None:
        if self.guards.control is not None:
            self.guards.control.close()

    def _ended(self) -> None:
        outcome = self.outcome
        outcome.generated_chars += self.content.generated_chars
        outcome.tool_calls = tuple(self.content.tool_calls)
        outcome.reasoning = self.content.reasoning()
        if outcome.output_tokens is None:
            outcome.output_tokens = estimate_tokens(outcome.generated_chars)
            outcome.estimated = ("outputTokens",)
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
                outcome.estimated,
                self._cache_usage(),
            )
        )

    def _cache_usage(self) -> tuple[int | None, int | None] | None:
        """The prompt-cache counts for `done`: listed for a v2 request, or whenever the upstream gave one."""
        cache = (self.outcome.cache_read_input_tokens, self.outcome.cache_write_input_tokens)
        return cache if self.guards.usage_cache or cache != (None, None) else None

    def _finish_error(self, error: UpstreamError) -> None:
        self.outcome.status = "error"
        self.outcome.upstream_error = error.upstream_code
        self._finish_error_code(
            protocol.UPSTREAM_ERROR_CODES[error.kind],
            protocol.upstream_error_message(error.kind, error.message),
            retryable=error.retryable,
        )

    def _finish_error_code(self, code: ErrorCode, message: str, *, retryable: bool) -> None:
        self.outcome.error_code = code
        request_id = self.delivery.request_id
        self._ended()
        self.delivery.finish(
            lambda seq: protocol.error_frame(code, message, request_id=request_id, seq=seq, retryable=retryable)
        )


_CONNECTION_LOST_MESSAGE = "The connection was lost for longer than the grace period; the answer was stopped."
