"""Settings the functions read from their environment, once per execution environment.

The CDK stack writes these variables (see `ENV_*` names); localgw writes the same ones for local runs.
Clients and endpoints for AWS services follow botocore's own variables (`AWS_ENDPOINT_URL_DYNAMODB`,
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, ...), so no code path differs between AWS and localgw.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

ENV_TABLE_NAME = "RELAY_TABLE_NAME"
ENV_MODEL_ID = "RELAY_MODEL_ID"
ENV_MAX_TOKENS_DEFAULT = "RELAY_MAX_TOKENS_DEFAULT"
ENV_MAX_TOKENS_LIMIT = "RELAY_MAX_TOKENS_LIMIT"
ENV_MAX_TEXT_CHARS = "RELAY_MAX_TEXT_CHARS"
ENV_CONNECTIONS_ENDPOINT = "RELAY_CONNECTIONS_ENDPOINT"
ENV_CONNECTION_TTL_SECONDS = "RELAY_CONNECTION_TTL_SECONDS"
ENV_COALESCE_MS = "RELAY_COALESCE_MS"
ENV_COALESCE_MAX_CHARS = "RELAY_COALESCE_MAX_CHARS"
ENV_GONE_GRACE_SECONDS = "RELAY_GONE_GRACE_SECONDS"
ENV_TIME_GUARD_MS = "RELAY_TIME_GUARD_MS"
ENV_POST_MAX_ATTEMPTS = "RELAY_POST_MAX_ATTEMPTS"
ENV_CONTROL_POLL_MS = "RELAY_CONTROL_POLL_MS"
ENV_ANSWER_TTL_SECONDS = "RELAY_ANSWER_TTL_SECONDS"
ENV_CONVERSATION_TTL_SECONDS = "RELAY_CONVERSATION_TTL_SECONDS"
ENV_HISTORY_MAX_CHARS = "RELAY_HISTORY_MAX_CHARS"

# API Gateway closes a connection after 2 h; the slack keeps the item until $disconnect has surely run.
DEFAULT_CONNECTION_TTL_SECONDS = 2 * 3600 + 600


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True, slots=True)
class Tunable:
    """A setting of the functions that deployments may tune: CDK context `camelCase(name)` → environment `env`."""

    name: str
    env: str
    default: int | float
    low: int | float
    high: int | float
    meaning: str


TUNABLES: tuple[Tunable, ...] = (
    Tunable("max_text_chars", ENV_MAX_TEXT_CHARS, 32_000, 1, 120_000, "longest `text` a client may send"),
    Tunable("coalesce_ms", ENV_COALESCE_MS, 50, 0, 1000, "longest time text waits to join the next frame"),
    Tunable("coalesce_max_chars", ENV_COALESCE_MAX_CHARS, 4096, 64, 8192, "pending text posted without waiting"),
    Tunable("post_max_attempts", ENV_POST_MAX_ATTEMPTS, 6, 1, 20, "attempts per frame on 429/5xx from @connections"),
    Tunable("gone_grace_seconds", ENV_GONE_GRACE_SECONDS, 10.0, 0, 300, "model keeps streaming after the client left"),
    Tunable("time_guard_ms", ENV_TIME_GUARD_MS, 5000, 1000, 60_000, "end with time_limit below this Lambda time"),
    Tunable("control_poll_ms", ENV_CONTROL_POLL_MS, 250, 50, 5000, "how often an answer checks for cancel/resume"),
    Tunable("answer_ttl_seconds", ENV_ANSWER_TTL_SECONDS, 24 * 3600, 60, 30 * 86400, "resume replay window"),
    Tunable(
        "conversation_ttl_seconds",
        ENV_CONVERSATION_TTL_SECONDS,
        30 * 86400,
        3600,
        365 * 86400,
        "how long an idle conversation is kept",
    ),
    Tunable("history_max_chars", ENV_HISTORY_MAX_CHARS, 60_000, 0, 1_000_000, "earlier turns sent to the model"),
)
TUNING_DEFAULTS: dict[str, int | float] = {tunable.name: tunable.default for tunable in TUNABLES}


@dataclass(frozen=True, slots=True)
class Settings:
    table_name: str
    model_id: str
    max_tokens_default: int
    max_tokens_limit: int
    max_text_chars: int
    connections_endpoint: str | None
    connection_ttl_seconds: int
    coalesce_ms: int
    coalesce_max_chars: int
    gone_grace_seconds: float
    time_guard_ms: int
    post_max_attempts: int
    control_poll_ms: int
    """How often a streaming answer looks for cancel and resume requests."""
    answer_ttl_seconds: int
    """How long a finished answer can be replayed by `resume`."""
    conversation_ttl_seconds: int
    history_max_chars: int
    """Budget of earlier turns sent to the model; the oldest whole turns are dropped first."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            table_name=os.environ.get(ENV_TABLE_NAME, ""),
            model_id=os.environ.get(ENV_MODEL_ID, ""),
            max_tokens_default=env_int(ENV_MAX_TOKENS_DEFAULT, 1024),
            max_tokens_limit=env_int(ENV_MAX_TOKENS_LIMIT, 8192),
            connections_endpoint=os.environ.get(ENV_CONNECTIONS_ENDPOINT) or None,
            connection_ttl_seconds=env_int(ENV_CONNECTION_TTL_SECONDS, DEFAULT_CONNECTION_TTL_SECONDS),
            **{
                tunable.name: (_float if isinstance(tunable.default, float) else env_int)(tunable.env, tunable.default)
                for tunable in TUNABLES
            },
        )


@cache
def settings() -> Settings:
    """The settings of this execution environment (read once; tests call `settings.cache_clear()`)."""
    return Settings.from_env()
