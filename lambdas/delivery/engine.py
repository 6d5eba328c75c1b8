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
REASONING_BUDGET = protocol.MAX_FRAME_BYTES - len(protocol.encode(protocol.reasoning_frame("x" * 64, 10**10, "")))

DELTA = "delta"
REASONING = "reasoning"
FRAME = "frame"
"""Kinds of pending output: answer text, reasoning text (each coalesced into frames of its own type), and a
whole frame (a tool call) that waits for nothing but the output before it."""
_TEXT_FRAMES: dict[str, tuple[Callable[[str, int, str], dict[str, Any]], int]] = {
    DELTA: (protocol.delta_frame, TEXT_BUDGET),
    REASONING: (protocol.reasoning_frame, REASONING_BUDGET),
}


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
    """One answer's frames: built into a journal in seq order, posted from it by one sender thread.

    The journal is what makes resume possible: `retarget()` points the sender at a new connection and a position
    in the journal, and the rest of the answer (replayed, then live) goes there. When the client is gone, frames
    still join the journal (nothing is posted) so the finished answer can be stored and replayed later.
    """

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
        self.journal: list[dict[str, Any]] = []
        """Every frame built so far, in seq order (frame `i` has seq `i`)."""
        self._poster = poster
        self._options = options or DeliveryOptions()
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._cond = threading.Condition()
        self._posted = 0  # journal frames the current target has received
        self._target = 0  # bumped by retarget(): a post to an earlier target no longer counts
        self._pending: list[tuple[str, Any]] = []
        """(kind, text) for DELTA and REASONING, (FRAME, its builder) for a whole frame."""
        self._pending_chars = 0
        self._pending_frame = False
        self._pending_since: float | None = None
        self._terminal: FrameBuilder | None = None
        self._built_delta = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"delivery-{request_id}", daemon=True)
        self._thread.start()

    # -- the producer's side (the handler's thread) -------------------------------------------------------------

    def start(self, model: str, **fields: Any) -> None:
        """Queue the start frame (seq 0); `fields` add request-level facts such as a conversationId."""
        with self._cond:
            if not self.journal:
                self.journal.append({**protocol.start_frame(self.request_id, model), **fields})
                self._cond.notify_all()

    def text(self, text: str) -> None:
        self._add(DELTA, text)

    def reasoning(self, text: str) -> None:
        """Reasoning text: coalesced like answer text, into `reasoning` frames."""
        self._add(REASONING, text)

    def frame(self, build: FrameBuilder) -> None:
        """A whole frame, built once its seq is known, sent in order after the output before it, without any
        coalescing delay."""
        with self._cond:
            if self._pending_since is None:
                self._pending_since = self._clock()
            self._pending.append((FRAME, build))
            self._pending_frame = True
            self._cond.notify_all()

    def _add(self, kind: str, text: str) -> None:
        if not text:
            return
        with self._cond:
            first_pending = not self._pending
            if self._pending_since is None:
                self._pending_since = self._clock()
            self._pending.append((kind, text))
            self._pending_chars += len(text)
            # Wake the sender only when this text changes its plans: it is the first pending text (the sender
            # then starts the coalescing timer), or it is due now. Otherwise the running timer already covers it:
            # one wake-up per window, not one per model chunk.
            if first_pending or not self._built_delta or self._pending_chars >= self._options.max_chars:
                self._cond.notify_all()

    def finish(self, build_terminal: FrameBuilder) -> None:
        """End the answer: pending text is flushed, then the terminal frame is built with the next seq and sent."""
        with self._cond:
            if self._terminal is None:
                self._terminal = build_terminal
                self._cond.notify_all()

    def retarget(self, poster: Poster, after: int) -> None:
        """Send every frame with seq > `after`, then the live rest, to `poster` (a resumed connection)."""
        with self._cond:
            self._poster = poster
            self._target += 1
            self._posted = max(0, min(after + 1, len(self.journal)))
            self.stats.gone = False
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the answer is complete and nothing more can be posted (all posted, client gone, or
        delivery failed); False if `timeout` ran out first."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._idle():
                remaining = None if deadline is None else deadline - self._clock()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def stop(self) -> None:
        """Abandon whatever is not yet posted (the Lambda is about to return)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def complete(self) -> bool:
        """The terminal frame is in the journal."""
        with self._cond:
            return bool(self.journal) and self.journal[-1]["type"] in ("done", "error")

    @property
    def gone(self) -> bool:
        return self.stats.gone

    @property
    def failed(self) -> bool:
        return self.stats.failed

    def text_so_far(self) -> str:
        """The answer text in the journal (what a client has, or would have, received)."""
        with self._cond:
            return "".join(frame["text"] for frame in self.journal if frame["type"] == "delta")

    # -- the sender thread ---------------------------------------------------------------------------------------

    def _idle(self) -> bool:
        if self._stopped:
            return True
        finished = self._terminal is not None and not self._pending and bool(self.journal)
        finished = finished and self.journal[-1]["type"] in ("done", "error")
        return finished and (self._posted >= len(self.journal) or self.stats.gone or self.stats.failed)

    def _run(self) -> None:
        while True:
            with self._cond:
                job = self._next_job()
                if job is None:
                    return
            poster, index, target = job
            outcome = self._post(poster, self.journal[index])
            with self._cond:
                if target != self._target:
                    continue  # retargeted while posting: the new target starts from its own position
                if outcome == "posted":
                    self._posted = index + 1
                elif outcome == "gone":
                    self.stats.gone = True
                else:
                    self.stats.failed = True
                self._cond.notify_all()

    def _next_job(self) -> tuple[Poster, int, int] | None:
        """Under the lock: wait until a frame can be posted; None when delivery must stop."""
        while True:
            if self._stopped:
                return None
            can_post = not self.stats.gone and not self.stats.failed
            if can_post and self._posted >= len(self.journal):
                self._build_due()
            elif not can_post and self._terminal is not None:
                self._build_due()  # nobody to post to: still complete the journal for storage and resume
            if can_post and self._posted < len(self.journal):
                return self._poster, self._posted, self._target
            self._cond.notify_all()  # wake wait(): the idle state may have been reached
            self._cond.wait(self._wait_timeout())

    def _build_due(self) -> None:
        """Turn due pending text into delta frames (and the terminal frame, once all text is out) in the journal.

        Text is built lazily, only when the sender is free: whatever arrived during a post joins the next frame.
        """
        if not self.journal:
            return  # start() comes first
        if self._pending and self._pending_due():
            self._build_deltas()
        if self._terminal is not None and not self._pending and self.journal[-1]["type"] not in ("done", "error"):
            self.journal.append(self._terminal(len(self.journal)))

    def _pending_due(self) -> bool:
        if not self._built_delta or self._terminal is not None or self._pending_chars >= self._options.max_chars:
            return True
        if self._pending_frame:
            return True
        assert self._pending_since is not None
        return self._clock() - self._pending_since >= self._options.coalesce_s

    def _wait_timeout(self) -> float | None:
        if not self._pending or self._pending_since is None:
            return None
        return max(0.0, self._pending_since + self._options.coalesce_s - self._clock())

    def _build_deltas(self) -> None:
        """Pending output into frames: each run of one kind of text coalesced (and split) into its frame type."""
        pending = self._pending
        self._pending = []
        self._pending_chars = 0
        self._pending_since = None
        self._pending_frame = False
        self._built_delta = True
        run_kind: str | None = None
        run: list[str] = []
        for kind, item in [*pending, (None, None)]:
            if kind != run_kind and run_kind is not None:
                build, budget = _TEXT_FRAMES[run_kind]
                for piece in split_text("".join(run), budget):
                    self.journal.append(build(self.request_id, len(self.journal), piece))
                run_kind, run = None, []
            if kind == FRAME:
                self.journal.append(item(len(self.journal)))
            elif kind is not None:
                run_kind = kind
                run.append(item)

    def _post(self, poster: Poster, frame: dict[str, Any]) -> str:
        data = protocol.encode(frame)
        try:
            retries = post_with_retry(poster, data, self._options.retry, sleep=self._sleep, jitter=self._jitter)
        except ConnectionGoneError:
            return "gone"
        except PostError as exc:
            self.stats.failure = str(exc)
            return "failed"
        self.stats.retries += retries
        self.stats.posts += 1
        self.stats.bytes += len(data)
        if frame["type"] == "delta" and self.stats.first_delta_posted_at is None:
            self.stats.first_delta_posted_at = self._clock()
        return "posted"
