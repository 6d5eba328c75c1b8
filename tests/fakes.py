"""Test doubles for the @connections edge: they record what a client would receive."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

from lambdas.delivery.errors import ConnectionGoneError, PostError, RetryablePostError


class RecordingPoster:
    """Receives posts like a connected client; can be slow, throttle at random, or leave after some posts."""

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        throttle_rate: float = 0.0,
        gone_after: int | None = None,
        fail_with: type[PostError] | None = None,
        seed: int = 0,
    ) -> None:
        self.frames: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.attempts = 0
        self.latency_s = latency_s
        self.throttle_rate = throttle_rate
        self.gone_after = gone_after
        self.fail_with = fail_with
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def post(self, data: bytes) -> None:
        with self._lock:
            self.attempts += 1
            if self.latency_s:
                time.sleep(self.latency_s * self._random.random() * 2)
            if self.gone_after is not None and len(self.frames) >= self.gone_after:
                raise ConnectionGoneError("gone")
            if self.fail_with is not None:
                raise self.fail_with("refused")
            if self._random.random() < self.throttle_rate:
                raise RetryablePostError("LimitExceededException")
            self.raw.append(data)
            self.frames.append(json.loads(data))

    def text(self) -> str:
        return "".join(f["text"] for f in self.frames if f["type"] == "delta")


def assert_well_formed(frames: list[dict[str, Any]], request_id: str) -> None:
    """The protocol's guarantees: seq from 0 with no gap, start first, exactly one terminal frame, last."""
    assert [f["seq"] for f in frames] == list(range(len(frames)))
    assert all(f["requestId"] == request_id for f in frames)
    assert frames[0]["type"] == "start"
    assert frames[-1]["type"] in ("done", "error")
    assert sum(f["type"] in ("done", "error") for f in frames) == 1
