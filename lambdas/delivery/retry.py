"""Posting one message with bounded, jittered retries: the one retry policy for every frame the relay sends."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from lambdas.delivery.errors import PostError, RetryablePostError
from lambdas.delivery.poster import Poster


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff_base_s: float = 0.05
    backoff_cap_s: float = 2.0

    def backoff(self, attempt: int, jitter: float) -> float:
        """Full jitter over a capped exponential: spreads retries of many streams hitting one throttle."""
        return jitter * min(self.backoff_cap_s, self.backoff_base_s * 2**attempt)


def post_with_retry(
    poster: Poster,
    data: bytes,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    jitter: Callable[[], float] = random.random,
) -> int:
    """Post `data`, retrying throttles and 5xx; returns how many retries it took.

    Raises ConnectionGoneError at once, or PostError when a post cannot succeed or the attempts ran out.
    """
    for attempt in range(policy.max_attempts):
        try:
            poster.post(data)
            return attempt
        except RetryablePostError as exc:
            if attempt + 1 >= policy.max_attempts:
                raise PostError(f"gave up after {policy.max_attempts} attempts: {exc}") from exc
            sleep(policy.backoff(attempt, jitter()))
    raise AssertionError("unreachable: max_attempts must be at least 1")
