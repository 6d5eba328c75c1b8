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
            max_text_chars=env_int(ENV_MAX_TEXT_CHARS, 32_000),
            connections_endpoint=os.environ.get(ENV_CONNECTIONS_ENDPOINT) or None,
            connection_ttl_seconds=env_int(ENV_CONNECTION_TTL_SECONDS, DEFAULT_CONNECTION_TTL_SECONDS),
            coalesce_ms=env_int(ENV_COALESCE_MS, 50),
            coalesce_max_chars=env_int(ENV_COALESCE_MAX_CHARS, 4096),
            gone_grace_seconds=_float(ENV_GONE_GRACE_SECONDS, 10.0),
            time_guard_ms=env_int(ENV_TIME_GUARD_MS, 5000),
            post_max_attempts=env_int(ENV_POST_MAX_ATTEMPTS, 6),
            control_poll_ms=env_int(ENV_CONTROL_POLL_MS, 250),
            answer_ttl_seconds=env_int(ENV_ANSWER_TTL_SECONDS, 24 * 3600),
            conversation_ttl_seconds=env_int(ENV_CONVERSATION_TTL_SECONDS, 30 * 24 * 3600),
            history_max_chars=env_int(ENV_HISTORY_MAX_CHARS, 60_000),
        )


@cache
def settings() -> Settings:
    """The settings of this execution environment (read once; tests call `settings.cache_clear()`)."""
    return Settings.from_env()
