"""From measured usage to dollars and ceilings: the cost of 1,000 answers at published us-east-1 prices, and which
account or service limit a given number of concurrent users hits first.

Pure arithmetic on `AnswerUsage` (what `bench.run.run_usage` measured for one answer on its own connection);
tests/unit/bench/test_cost.py checks it by hand. docs/capacity.md explains every line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

API_MESSAGE_BYTES = 32 * 1024
"""API Gateway meters WebSocket messages in 32 KB units: a 33 KB frame is 2 messages."""
GB_MB = 1024


@dataclass(frozen=True, slots=True)
class Prices:
    """us-east-1 list prices (USD), first pricing tier, as published on the pages in `source`."""

    api_messages_per_million: float = 1.00
    api_connection_minutes_per_million: float = 0.25
    lambda_arm64_gb_second: float = 0.0000133334
    lambda_requests_per_million: float = 0.20
    dynamodb_write_units_per_million: float = 0.625
    dynamodb_read_units_per_million: float = 0.125
    model: str = "Claude Haiku 4.5 on Amazon Bedrock (on-demand, us. inference profile)"
    model_input_tokens_per_million: float = 1.00
    model_output_tokens_per_million: float = 5.00
    as_of: str = "2025-10 (DynamoDB on-demand after its 2024-11-01 price cut); not re-checked from this machine"
    source: tuple[str, ...] = (
        "https://aws.amazon.com/api-gateway/pricing/ (WebSocket APIs)",
        "https://aws.amazon.com/lambda/pricing/ (Arm)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
        "https://aws.amazon.com/bedrock/pricing/ (Anthropic)",
    )


PRICES = Prices()


@dataclass(frozen=True, slots=True)
class AnswerUsage:
    """What one answer of `output_tokens` cost in requests, on a connection opened for it and closed after it."""

    design: str
    output_tokens: int
    input_tokens: int
    client_messages: int
    """Messages the client sent (the question)."""
    frames: int
    """@connections posts, each one frame to the client."""
    frame_bytes: int
    message_units: int
    """Frames metered in 32 KB units (`message_units_of`)."""
    connection_s: float
    lambda_ms: Mapping[str, float]
    """Handler time per function (route key; the authorizer as `$authorizer`)."""
    lambda_invocations: Mapping[str, int]
    lambda_memory_mb: Mapping[str, int]
    dynamodb_read_units: float
    dynamodb_write_units: float
    dynamodb_requests: int
    answer_s: float
    """Question sent → terminal frame received."""
    control_reads_per_s: float = 0.0
    """The streaming answer's cancel/resume poll: DynamoDB reads per second while it streams."""
    dynamodb_by_operation: Mapping[str, int] = field(default_factory=dict)
    moto_reported_capacity_units: float = 0.0
    """moto's own `ConsumedCapacity` total (constants per call, none for updates and write transactions)."""

    @property
    def gb_seconds(self) -> float:
        return sum(ms / 1000 * self.lambda_memory_mb[key] / GB_MB for key, ms in self.lambda_ms.items())

    @property
    def requests(self) -> int:
        return sum(self.lambda_invocations.values())

    @property
    def posts_per_second(self) -> float:
        return self.frames / self.answer_s if self.answer_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(gb_seconds=round(self.gb_seconds, 4), posts_per_second=round(self.posts_per_second, 2))
        return data


def message_units_of(frame_sizes: Sequence[int]) -> int:
    return sum(max(1, math.ceil(size / API_MESSAGE_BYTES)) for size in frame_sizes)


@dataclass(frozen=True, slots=True)
class Cost:
    """Dollars for `answers` answers, line by line."""

    answers: int
    api_messages: float
    api_connection_minutes: float
    lambda_compute: float
    lambda_requests: float
    dynamodb_reads: float
    dynamodb_writes: float
    model: float

    @property
    def relay(self) -> float:
        """Everything but the model's tokens: what the relay's design decides."""
        return (
            self.api_messages
            + self.api_connection_minutes
            + self.lambda_compute
            + self.lambda_requests
            + self.dynamodb_reads
            + self.dynamodb_writes
        )

    @property
    def total(self) -> float:
        return self.relay + self.model

    def to_json(self) -> dict[str, Any]:
        lines = {key: round(value, 6) for key, value in asdict(self).items() if key != "answers"}
        return {"answers": self.answers, **lines, "relay": round(self.relay, 6), "total": round(self.total, 6)}


def cost(usage: AnswerUsage, answers: int = 1000, prices: Prices = PRICES) -> Cost:
    million = 1_000_000
    messages = (usage.client_messages + usage.message_units) * answers
    # Connection minutes are metered per started minute of each connection.
    minutes = math.ceil(usage.connection_s / 60) * answers
    return Cost(
        answers=answers,
        api_messages=messages * prices.api_messages_per_million / million,
        api_connection_minutes=minutes * prices.api_connection_minutes_per_million / million,
        lambda_compute=usage.gb_seconds * answers * prices.lambda_arm64_gb_second,
        lambda_requests=usage.requests * answers * prices.lambda_requests_per_million / million,
        dynamodb_reads=usage.dynamodb_read_units * answers * prices.dynamodb_read_units_per_million / million,
        dynamodb_writes=usage.dynamodb_write_units * answers * prices.dynamodb_write_units_per_million / million,
        model=(
            usage.input_tokens * prices.model_input_tokens_per_million
            + usage.output_tokens * prices.model_output_tokens_per_million
        )
        * answers
        / million,
    )


# Ceilings: N users each with one answer streaming, back to back (the worst case: every user is waiting for an
# answer at once). Each limit's use grows linearly with N; the one with the highest use is hit first.


@dataclass(frozen=True, slots=True)
class Limits:
    """Default quotas (us-east-1) and the stack's defaults, and what raising each takes."""

    lambda_concurrency: int = 1000
    connections_api_rps: int = 10_000
    new_connections_per_s: int = 500
    route_requests_per_s: float = 50.0
    """The stack's `throttlingRateLimit` on every route (sendtext included)."""
    dynamodb_reads_per_s: int = 12_000
    dynamodb_writes_per_s: int = 4_000
    """What a new on-demand table serves at once; it then adapts to twice its previous peak (to 40,000 a table)."""


LIMITS = Limits()
RECONNECT_WINDOW_S = 10.0
"""The window in which every user reconnects after a blip (clients back off with jitter): N users need N / 10 new
connections per second."""

RAISE = {
    "lambda_concurrency": "Service Quotas: Lambda 'Concurrent executions' (a request; raised to tens of thousands)",
    "connections_api_rps": "Service Quotas / support: API Gateway account throttle (shared by every @connections "
    "call); or post fewer frames (coalesceMs)",
    "new_connections_per_s": "Service Quotas: API Gateway 'New connections per second' (WebSocket)",
    "route_requests_per_s": "-c throttlingRateLimit / throttlingBurstLimit (the stack's own route throttling)",
    "dynamodb_reads_per_s": "nothing to file: on-demand adapts within minutes; pre-warm (warm throughput) for a "
    "launch; or a longer controlPollMs",
    "dynamodb_writes_per_s": "nothing to file: on-demand adapts within minutes; pre-warm (warm throughput)",
}


@dataclass(frozen=True, slots=True)
class Ceiling:
    users: int
    use: dict[str, float] = field(default_factory=dict)
    """Each limit's use at `users` (1.0 = at the limit)."""

    @property
    def first(self) -> str:
        return max(self.use, key=lambda name: self.use[name])

    def to_json(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "use": {key: round(value, 3) for key, value in self.use.items()},
            "first_limit": self.first,
            "over": sorted(key for key, value in self.use.items() if value >= 1),
        }


def demand_per_user(usage: AnswerUsage) -> dict[str, float]:
    """What one user with one answer always streaming asks of each limit, per second (or at once)."""
    per_answer_s = max(usage.answer_s, 1e-9)
    return {
        "lambda_concurrency": 1.0,
        "connections_api_rps": usage.posts_per_second,
        # Every user reconnecting within RECONNECT_WINDOW_S: a network blip, or the 2-hour connection limit.
        "new_connections_per_s": 1.0 / RECONNECT_WINDOW_S,
        "route_requests_per_s": usage.client_messages / per_answer_s,
        "dynamodb_reads_per_s": usage.dynamodb_read_units / per_answer_s,
        "dynamodb_writes_per_s": usage.dynamodb_write_units / per_answer_s,
    }


def ceilings(
    usage: AnswerUsage, users: Sequence[int] = (10, 100, 1000, 10_000), limits: Limits = LIMITS
) -> list[Ceiling]:
    demand = demand_per_user(usage)
    capacity = asdict(limits)
    return [Ceiling(n, {name: n * per_user / capacity[name] for name, per_user in demand.items()}) for n in users]


def users_at_limit(usage: AnswerUsage, limits: Limits = LIMITS) -> dict[str, float]:
    """How many users (each with an answer streaming) each limit admits."""
    capacity = asdict(limits)
    return {name: capacity[name] / per_user for name, per_user in demand_per_user(usage).items() if per_user > 0}


def typical(usages: Sequence[AnswerUsage]) -> AnswerUsage:
    """The median repeat (by handler time): one real measurement, not a blend of several."""
    ordered = sorted(usages, key=lambda usage: usage.gb_seconds)
    return ordered[(len(ordered) - 1) // 2]


def summary(usages: Sequence[AnswerUsage], answers: int = 1000, prices: Prices = PRICES) -> dict[str, Any]:
    """results.json's `cost` section: per design, the typical answer's usage, the cost of `answers` answers and the
    ceilings; the prices with their source."""
    designs: dict[str, Any] = {}
    for design in dict.fromkeys(usage.design for usage in usages):
        usage = typical([u for u in usages if u.design == design])
        designs[design] = {
            "usage": usage.to_json(),
            "repeats": sum(u.design == design for u in usages),
            "cost": cost(usage, answers, prices).to_json(),
            "ceilings": [ceiling.to_json() for ceiling in ceilings(usage)],
            "users_at_limit": {key: round(value) for key, value in users_at_limit(usage).items()},
        }
    return {"answers": answers, "prices": asdict(prices), "limits": asdict(LIMITS), "raise": RAISE, "designs": designs}
