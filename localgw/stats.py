"""Counters a test or benchmark reads back: what @connections delivered or refused, per connection."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class PostTally:
    """@connections POST outcomes for one connection id."""

    frames: int = 0
    """Posts delivered (each is exactly one frame on the socket)."""
    bytes: int = 0
    gone: int = 0
    throttled: int = 0
    too_large: int = 0
    output_tokens: int = 0
    """Output tokens reported by the relay's `done` frames among them (the console's per-answer summary)."""

    def minus(self, earlier: PostTally) -> PostTally:
        return PostTally(
            frames=self.frames - earlier.frames,
            bytes=self.bytes - earlier.bytes,
            gone=self.gone - earlier.gone,
            throttled=self.throttled - earlier.throttled,
            too_large=self.too_large - earlier.too_large,
            output_tokens=self.output_tokens - earlier.output_tokens,
        )


class GatewayStats:
    """Thread-safe: written on the gateway's loop, read from test threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: dict[str, PostTally] = {}
        self._invocations: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._durations_ms: Counter[str] = Counter()
        self.connections_opened = 0
        self.connections_closed = 0

    def post_delivered(self, connection_id: str, size: int, output_tokens: int = 0) -> None:
        with self._lock:
            tally = self._posts.get(connection_id, PostTally())
            self._posts[connection_id] = replace(
                tally,
                frames=tally.frames + 1,
                bytes=tally.bytes + size,
                output_tokens=tally.output_tokens + output_tokens,
            )

    def post_refused(self, connection_id: str, kind: str) -> None:
        """kind: `gone`, `throttled` or `too_large`."""
        with self._lock:
            tally = self._posts.get(connection_id, PostTally())
            self._posts[connection_id] = replace(tally, **{kind: getattr(tally, kind) + 1})

    def invocation(self, route_key: str, *, failed: bool, duration_ms: float = 0.0) -> None:
        with self._lock:
            self._invocations[route_key] += 1
            self._durations_ms[route_key] += duration_ms
            if failed:
                self._errors[route_key] += 1

    def connection_opened(self) -> None:
        with self._lock:
            self.connections_opened += 1

    def connection_closed(self) -> None:
        with self._lock:
            self.connections_closed += 1

    def posts(self, connection_id: str) -> PostTally:
        with self._lock:
            return self._posts.get(connection_id, PostTally())

    def all_posts(self) -> dict[str, PostTally]:
        with self._lock:
            return dict(self._posts)

    def invocations(self) -> dict[str, int]:
        with self._lock:
            return dict(self._invocations)

    def durations_ms(self) -> dict[str, float]:
        """Handler time per route key (the authorizer as `$authorizer`) since the start: Lambda's billed duration."""
        with self._lock:
            return dict(self._durations_ms)

    def errors(self) -> dict[str, int]:
        with self._lock:
            return dict(self._errors)
