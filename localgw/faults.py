"""Fault injection for @connections POST: added latency and a share of 429 LimitExceededException answers.

Tests and benchmarks change these while the gateway runs (from another thread): plain attribute writes, read once
per post. The 429 draw uses a seeded RNG so a run with the same seed and the same sequence of posts is reproducible.
"""

from __future__ import annotations

import random
import threading


class PostFaults:
    def __init__(self, latency_ms: float = 0.0, throttle_rate: float = 0.0, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._latency_ms = 0.0
        self._throttle_rate = 0.0
        self._random = random.Random(seed)
        self.latency_ms = latency_ms
        self.throttle_rate = throttle_rate

    @property
    def latency_ms(self) -> float:
        """Milliseconds added to every POST before it is answered."""
        return self._latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError(f"latency_ms must not be negative, got {value}")
        self._latency_ms = float(value)

    @property
    def throttle_rate(self) -> float:
        """Fraction (0..1) of POSTs answered 429 LimitExceededException."""
        return self._throttle_rate

    @throttle_rate.setter
    def throttle_rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"throttle_rate must be between 0 and 1, got {value}")
        self._throttle_rate = float(value)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def should_throttle(self) -> bool:
        rate = self._throttle_rate
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            return self._random.random() < rate
