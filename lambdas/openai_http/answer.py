"""One HTTP answer: the relay loop of the WebSocket channel (`lambdas.answer.relay`), fed to an HTTP response.

The loop runs on a thread of its own, as in the sendtext Lambda, with the same guards: the time guard (the answer
ends with a final event saying why before the function's time is up), the client's departure (the model's stream is
closed at once: there is no resume over HTTP, so no grace period), and usage estimated when the model reports none.
What it sends arrives on the event loop as ("text", str), ("reasoning", str) and ("tool_use", frame) items, then one
("end", frame) item: the relay's own `tool_use`, `done` and `error` frames. A silent answer (a slow first token, a
tool call's input being assembled, an upstream retrying) can also yield ("idle", None) items, for the stream's
keep-alive comments.

Quotas: the in-flight slot and the daily output tokens are the WebSocket channel's (`lambdas.store.quotas`): a slot is
taken before the model is called and given back, with the tokens charged, right before the terminal item is queued.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from lambdas.answer.admission import LEASE_MARGIN_S
from lambdas.answer.relay import Guards, Outcome, estimate_tokens, relay
from lambdas.observability import in_this_invocation, logger
from lambdas.protocol import ErrorCode, error_frame
from lambdas.providers.base import ModelRequest, Provider
from lambdas.store import Store
from lambdas.store.errors import StoreError

TEXT = "text"
REASONING = "reasoning"
TOOL_USE = "tool_use"
END = "end"
IDLE = "idle"
DISCONNECT_POLL_S = 0.1
"""How often a silent answer looks whether its client is still connected."""


class HttpSink:
    """The relay loop's sink for one HTTP response (`lambdas.answer.relay.AnswerSink`): hands its text and terminal
    frame to the event loop, and reports the client's departure back to the loop."""

    def __init__(self, request_id: str, loop: asyncio.AbstractEventLoop) -> None:
        self._request_id = request_id
        self._loop = loop
        self.items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._gone = threading.Event()
        self._ended = False
        self._parts: list[str] = []

    @property
    def request_id(self) -> str:
        return self._request_id

    @property
    def gone(self) -> bool:
        return self._gone.is_set()

    @property
    def failed(self) -> bool:
        return False

    def leave(self) -> None:
        """The client went away: the relay loop stops the model's stream at its next tick."""
        self._gone.set()

    def text(self, text: str) -> None:
        self._parts.append(text)
        self._put((TEXT, text))

    def reasoning(self, text: str) -> None:
        self._put((REASONING, text))

    def frame(self, build: Callable[[int], dict[str, Any]]) -> None:
        """A whole protocol v2 frame: a `tool_use` is passed on; a redacted reasoning block has nothing to show."""
        frame = build(0)
        if frame.get("type") == TOOL_USE:
            self._put((TOOL_USE, frame))

    def finish(self, build_terminal: Callable[[int], dict[str, Any]]) -> None:
        if self._ended:
            return
        self._ended = True
        self._put((END, build_terminal(1)))

    @property
    def ended(self) -> bool:
        return self._ended

    def text_so_far(self) -> str:
        return "".join(self._parts)

    def _put(self, item: tuple[str, Any]) -> None:
        try:
            self._loop.call_soon_threadsafe(self.items.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self._gone.set()


class QuotaLease:
    """The caller's in-flight slot for one answer, and the charge of its output tokens when it ends."""

    def __init__(self, store: Store, user: str, request_id: str) -> None:
        self._store = store
        self._quotas = store.quotas
        self.user = user
        self.request_id = request_id
        # The WebSocket channel leases by the client's requestId ([A-Za-z0-9_-]): a ':' keeps this slot out of its
        # reach. Keyed by the bare `http-…` id, a sendtext with that id renewed this lease instead of taking a slot
        # and, ending, freed it while this answer still ran: the in-flight quota grew by one per round.
        self.lease_key = f"http:{request_id}"
        self._settled = False

    def take(self, max_tokens: int, remaining_s: float) -> int:
        """Take the slot; the answer's max tokens capped by the tokens left today. Raises QuotaExceededError or
        QuotaUnavailableError (blocking: call it off the event loop)."""
        tokens_left = self._quotas.admit(self.user, self.lease_key, remaining_s + LEASE_MARGIN_S)
        return max_tokens if tokens_left is None else max(1, min(max_tokens, tokens_left))

    def settle(self, outcome: Outcome, text: str) -> None:
        """Give the slot back and charge the tokens, at most once; never raises (the lease expires on its own)."""
        if self._settled:
            return
        self._settled = True
        tokens = outcome.output_tokens if outcome.output_tokens is not None else estimate_tokens(len(text))
        writes = self._quotas.settle_writes(self.user, self.lease_key, tokens)
        if not writes:
            return
        try:
            self._store.transact(writes)
        except StoreError:
            logger.exception("settling the HTTP answer's quota failed")


class HttpAnswer:
    """Runs one answer's relay loop on its own thread; `items()` yields what it sends, on the event loop."""

    def __init__(
        self,
        provider: Provider,
        request: ModelRequest,
        sink: HttpSink,
        *,
        remaining_ms: Callable[[], int],
        time_guard_ms: int,
        lease: QuotaLease,
        started_at: float,
    ) -> None:
        self._provider = provider
        self._request = request
        self.sink = sink
        self._guards = Guards(
            remaining_ms, time_guard_ms, gone_grace_s=0.0, on_end=lease.settle, tick_s=DISCONNECT_POLL_S
        )
        self._lease = lease
        self._started_at = started_at
        self.outcome: Outcome | None = None
        self._thread = threading.Thread(target=in_this_invocation(self._run), name="http-answer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        outcome = Outcome(status="error", error_code=ErrorCode.INTERNAL)
        try:
            outcome = relay(self._provider.stream(self._request), self.sink, self._guards, started_at=self._started_at)
        except Exception:
            logger.exception("HTTP answer failed inside the relay")
            message = "The relay failed; the answer is incomplete."
            self.sink.finish(lambda seq: error_frame(ErrorCode.INTERNAL, message, request_id=self.sink.request_id))
        finally:
            self._lease.settle(outcome, self.sink.text_so_far())
        self.outcome = outcome
        logger.info(
            "http answer",
            extra={
                "status": outcome.status,
                "stopReason": outcome.stop_reason,
                "errorCode": outcome.error_code,
                "upstreamError": outcome.upstream_error,
                "inputTokens": outcome.input_tokens,
                "outputTokens": outcome.output_tokens,
                "estimatedUsage": list(outcome.estimated),
                "textChars": outcome.text_chars,
                "totalMs": round((time.monotonic() - self._started_at) * 1000),
                "upstreamClosedEarly": outcome.upstream_closed_early,
            },
        )

    async def items(self, connected: Callable[[], bool], idle_s: float = 0) -> AsyncIterator[tuple[str, Any]]:
        """What the answer sends, ending with the (END, frame) item; stops early (telling the relay loop) when
        `connected()` turns false while the answer is silent. With `idle_s` > 0, an (IDLE, None) item after every
        `idle_s` seconds in which the answer sent nothing."""
        quiet_since = time.monotonic()
        while True:
            try:
                item = await asyncio.wait_for(self.sink.items.get(), DISCONNECT_POLL_S)
            except TimeoutError:
                if not connected():
                    self.sink.leave()
                    return
                if idle_s > 0 and time.monotonic() - quiet_since >= idle_s:
                    quiet_since = time.monotonic()
                    yield (IDLE, None)
                continue
            quiet_since = time.monotonic()
            yield item
            if item[0] == END:
                return
