"""A bounded record of recent simulated requests: what was planned, what was sent and when, how it ended.

The relay's tests read it to prove an upstream stream was abandoned early when the WebSocket client left
(`outcome == "client_closed"`, `chunks_sent < chunks_planned`); the benchmark reads the emit times to measure
delivery lag. Timestamps are `time.monotonic()` (CLOCK_MONOTONIC on Linux: comparable across processes of one
machine), taken right before the bytes of a chunk are handed to the socket.

The server's event loop writes; any thread may read. Readers get copies, never the live records.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Final

DEFAULT_CAPACITY: Final = 1000


class RequestOutcome(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    """Every chunk and the stop events were written."""
    FAILED = "failed"
    """A mid-stream error was written after some chunks (`fail_after`)."""
    CLIENT_CLOSED = "client_closed"
    """The client went away before the end; generation stopped there."""
    REJECTED = "rejected"
    """An HTTP error before any stream (throttling, validation, auth)."""


@dataclass(frozen=True, slots=True)
class Emit:
    chunk: int
    """Index of the text chunk in the plan."""
    chars: int
    """Length of the chunk's text (Python characters)."""
    t: float
    """`time.monotonic()` right before the write that completed this chunk."""
    planned: float
    """When the plan wanted it, in seconds after `started_at`."""


@dataclass(slots=True)
class RequestRecord:
    id: str
    format: str
    """`bedrock-invoke`, `bedrock-converse`, `sagemaker` or `openai`."""
    model: str
    """Model id, endpoint name or OpenAI model, as the client sent it."""
    started_at: float
    """`time.monotonic()` when the request arrived."""
    started_unix: float
    family: str | None = None
    """The wire dialect inside the format, e.g. `anthropic-messages`, `llama`, `tgi`."""
    turn: int | None = None
    last_user_text: str | None = None
    chunks_planned: int = 0
    chunks_sent: int = 0
    emits: list[Emit] = field(default_factory=list)
    outcome: RequestOutcome = RequestOutcome.RUNNING
    status: int | None = None
    """HTTP status of the response."""
    error: str | None = None
    """Error code sent (pre-stream or mid-stream), if any."""
    ended_at: float | None = None

    def snapshot(self) -> RequestRecord:
        """A copy safe to keep while the server goes on writing (emits are immutable: a new list suffices)."""
        return replace(self, emits=list(self.emits))

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["outcome"] = str(self.outcome)
        return data


class SimulatorLog:
    """The last `capacity` requests, oldest first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._changed = threading.Condition()

    # -- writing (the server's event loop) --

    def start(self, format: str, model: str) -> RequestRecord:
        record = RequestRecord(
            id=str(uuid.uuid4()), format=format, model=model, started_at=time.monotonic(), started_unix=time.time()
        )
        with self._changed:
            self._records.append(record)
            self._changed.notify_all()
        return record

    def update(self, record: RequestRecord, **changes: object) -> None:
        with self._changed:
            for name, value in changes.items():
                setattr(record, name, value)
            self._changed.notify_all()

    def emitted(self, record: RequestRecord, emits: Iterable[Emit]) -> None:
        with self._changed:
            for emit in emits:
                record.emits.append(emit)
                record.chunks_sent += 1
            self._changed.notify_all()

    def finish(
        self, record: RequestRecord, outcome: RequestOutcome, *, status: int | None = None, error: str | None = None
    ) -> None:
        with self._changed:
            record.outcome = outcome
            record.status = status if status is not None else record.status
            record.error = error if error is not None else record.error
            record.ended_at = time.monotonic()
            self._changed.notify_all()

    # -- reading (any thread) --

    def records(self) -> list[RequestRecord]:
        with self._changed:
            return [record.snapshot() for record in self._records]

    def get(self, request_id: str) -> RequestRecord | None:
        return next((record for record in self.records() if record.id == request_id), None)

    def last(self) -> RequestRecord | None:
        with self._changed:
            return self._records[-1].snapshot() if self._records else None

    def clear(self) -> None:
        with self._changed:
            self._records.clear()

    def to_json(self) -> list[dict[str, object]]:
        return [record.to_json() for record in self.records()]

    def wait_for(self, predicate: Callable[[list[RequestRecord]], bool], timeout: float = 10.0) -> list[RequestRecord]:
        """Block until `predicate(records)` holds; for a thread other than the server's loop.

        Raises `TimeoutError` with the records seen last.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                snapshot = [record.snapshot() for record in self._records]
                if predicate(snapshot):
                    return snapshot
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"simulator log condition not met within {timeout}s; last: {_brief(snapshot)}")
                self._changed.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[list[RequestRecord]], bool], timeout: float = 10.0, poll: float = 0.01
    ) -> list[RequestRecord]:
        """`wait_for` for code running on the server's own event loop (polls instead of blocking it)."""
        deadline = time.monotonic() + timeout
        while True:
            snapshot = self.records()
            if predicate(snapshot):
                return snapshot
            if time.monotonic() >= deadline:
                raise TimeoutError(f"simulator log condition not met within {timeout}s; last: {_brief(snapshot)}")
            await asyncio.sleep(poll)


def _brief(records: list[RequestRecord]) -> list[tuple[str, str, str, int]]:
    return [(r.id, r.format, str(r.outcome), r.chunks_sent) for r in records[-5:]]


def finished(record_id: str) -> Callable[[list[RequestRecord]], bool]:
    """Predicate for `wait_for`: the request with this id has ended, whatever the outcome."""
    return lambda records: any(r.id == record_id and r.outcome is not RequestOutcome.RUNNING for r in records)
