"""The delivery engine: an answer's frames posted in order by one sender thread, coalesced, split, retried.

The handler's thread only hands text over (`text()` never waits on the network), so reading the model never
waits on a post. The sender posts the start frame, then text: the first delta at once, later deltas together
once the oldest pending text is `coalesce_s` old (or `max_chars` are pending, or the answer ends). Text is
always flushed before the terminal frame, so done/error never overtake text. A post that is throttled (429) or
fails with a 5xx is retried with capped exponential backoff and full jitter; the frame order never changes.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambdas import protocol
from lambdas.delivery.errors import ConnectionGoneError, PostError
from lambdas.delivery.poster import Poster
from lambdas.delivery.retry import RetryPolicy, post_with_retry
from lambdas.delivery.split import split_text

FrameBuilder = Callable[[int], dict[str, Any]]
"""Builds the terminal frame once its seq is known."""

# A delta frame's JSON without its text, with room for the longest requestId and a 10-digit seq.
_DELTA_OVERHEAD = len(protocol.encode(protocol.delta_frame("x" * 64, 10**10, "")))
TEXT_BUDGET = protocol.MAX_FRAME_BYTES - _DELTA_OVERHEAD


@dataclass(slots=True)
class DeliveryStats:
    posts: int = 0
    bytes: int = 0
    retries: int = 0
    gone: bool = False
    failed: bool = False
    failure: str | None = None
    first_delta_posted_at: float | None = None
    """Clock reading when the first delta reached the @connections API."""


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    coalesce_s: float = 0.05
    """Longest time text waits to be coalesced with more text (after the first delta, which goes at once)."""
    max_chars: int = 4096
    """Pending text this long is posted without waiting for the coalescing interval."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class Delivery:
    def __init__(
        self,
        poster: Poster,
        request_id: str,
        options: DeliveryOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.request_id = request_id
        self.stats = DeliveryStats()
        self._poster = poster
        self._options = options or DeliveryOptions()
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._cond = threading.Condition()
        self._start: dict[str, Any] | None = None
        self._pending: list[str] = []
        self._pending_chars = 0
        self._pending_since: float | None = None
        self._terminal: FrameBuilder | None = None
        self._next_seq = 1
        self._sent_delta = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"delivery-{request_id}", daemon=True)
        self._thread.start()

    # -- the producer's side (the handler's thread) -------------------------------------------------------------

    def start(self, model: str, **fields: Any) -> None:
        """Queue the start frame (seq 0); `fields` add request-level facts such as a conversationId."""
        with self._cond:
            self._start = {**protocol.start_frame(self.request_id, model), **fields}
            self._cond.notify()

    def text(self, text: str) -> None:
        if not text:
            return
        with self._cond:
            if self._pending_since is None:
                self._pending_since = self._clock()
            self._pending.append(text)
            self._pending_chars += len(text)
            self._cond.notify()

    def finish(self, build_terminal: FrameBuilder) -> None:
        """End the answer: pending text is flushed, then the terminal frame is built with the next seq and sent."""
        with self._cond:
            if self._terminal is None:
                self._terminal = build_terminal
                self._cond.notify()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every frame is posted (or delivery stopped); False if `timeout` ran out first."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Abandon whatever is not yet posted (the Lambda is about to return)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()

    @property
    def gone(self) -> bool:
        return self.stats.gone

    @property
    def failed(self) -> bool:
        return self.stats.failed

    # -- the sender thread ---------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            frames = self._next_frames()
            if frames is None:
                return
            for frame in frames:
                if not self._post(frame):
                    return

    def _next_frames(self) -> list[dict[str, Any]] | None:
        """Wait for the next frames due, in order; None when the answer is complete or delivery must stop."""
        with self._cond:
            while True:
                if self._stopped:
                    return None
                if self._start is not None:
                    start, self._start = self._start, None
                    return [start]
                if self._pending and self._pending_due():
                    return self._take_pending()
                if self._terminal is not None and not self._pending:
                    frame = self._terminal(self._next_seq)
                    self._next_seq += 1
                    self._stopped = True
                    return [frame]
                self._cond.wait(self._wait_timeout())

    def _pending_due(self) -> bool:
        if not self._sent_delta or self._terminal is not None or self._pending_chars >= self._options.max_chars:
            return True
        assert self._pending_since is not None
        return self._clock() - self._pending_since >= self._options.coalesce_s

    def _wait_timeout(self) -> float | None:
        if not self._pending or self._pending_since is None:
            return None
        return max(0.0, self._pending_since + self._options.coalesce_s - self._clock())

    def _take_pending(self) -> list[dict[str, Any]]:
        text = "".join(self._pending)
        self._pending.clear()
        self._pending_chars = 0
        self._pending_since = None
        self._sent_delta = True
        frames = []
        for piece in split_text(text, TEXT_BUDGET):
            frames.append(protocol.delta_frame(self.request_id, self._next_seq, piece))
            self._next_seq += 1
        return frames

    def _post(self, frame: dict[str, Any]) -> bool:
        data = protocol.encode(frame)
        try:
            retries = post_with_retry(self._poster, data, self._options.retry, sleep=self._sleep, jitter=self._jitter)
        except ConnectionGoneError:
            self.stats.gone = True
            return False
        except PostError as exc:
            self.stats.failed = True
            self.stats.failure = str(exc)
            return False
        self.stats.retries += retries
        self.stats.posts += 1
        self.stats.bytes += len(data)
        if frame["type"] == "delta" and self.stats.first_delta_posted_at is None:
            self.stats.first_delta_posted_at = self._clock()
        return True
