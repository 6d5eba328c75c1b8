"""Settings the functions read from their environment, once per execution environment.

The CDK stack writes these variables (named in `lambdas.env_vars`); localgw writes the same ones for local runs.
Clients and endpoints for AWS services follow botocore's own variables (`AWS_ENDPOINT_URL_DYNAMODB`,
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, ...), so no code path differs between AWS and localgw.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from lambdas import env_vars

# API Gateway closes a connection after 2 h; the slack keeps the item until $disconnect has surely run.
DEFAULT_CONNECTION_TTL_SECONDS = 2 * 3600 + 600
DEFAULT_ATTACHMENT_TTL_DAYS = 1
DEFAULT_MAX_TOKENS = 4096
"""`maxTokens` when the client gives none: a 1024-token cap cut ordinary answers of current models mid-sentence."""


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
    Tunable(
        "max_text_chars", env_vars.MAX_TEXT_CHARS, 200_000, 1, 500_000, "longest `text` a client may send (all parts)"
    ),
    Tunable("max_parts", env_vars.MAX_PARTS, 64, 1, 256, "most `sendtext` parts one text may be sent in"),
    Tunable("parts_ttl_seconds", env_vars.PARTS_TTL_SECONDS, 300, 30, 3600, "how long an incomplete upload is kept"),
    Tunable("coalesce_ms", env_vars.COALESCE_MS, 50, 0, 1000, "longest time text waits to join the next frame"),
    Tunable("coalesce_max_chars", env_vars.COALESCE_MAX_CHARS, 4096, 64, 8192, "pending text posted without waiting"),
    Tunable(
        "post_max_attempts", env_vars.POST_MAX_ATTEMPTS, 6, 1, 20, "attempts per frame on 429/5xx from @connections"
    ),
    Tunable(
        "gone_grace_seconds", env_vars.GONE_GRACE_SECONDS, 10.0, 0, 300, "model keeps streaming after the client left"
    ),
    Tunable("time_guard_ms", env_vars.TIME_GUARD_MS, 5000, 1000, 60_000, "end with time_limit below this Lambda time"),
    Tunable("control_poll_ms", env_vars.CONTROL_POLL_MS, 250, 50, 5000, "how often an answer checks for cancel/resume"),
    Tunable("answer_ttl_seconds", env_vars.ANSWER_TTL_SECONDS, 24 * 3600, 60, 30 * 86400, "resume replay window"),
    Tunable(
        "conversation_ttl_seconds",
        env_vars.CONVERSATION_TTL_SECONDS,
        30 * 86400,
        3600,
        365 * 86400,
        "how long an idle conversation is kept",
    ),
    Tunable("history_max_chars", env_vars.HISTORY_MAX_CHARS, 60_000, 0, 1_000_000, "earlier turns sent to the model"),
    # API Gateway closes a REST stream idle for 5 minutes (regional; 30 s edge-optimized), proxies often sooner.
    Tunable("sse_keepalive_seconds", env_vars.SSE_KEEPALIVE_SECONDS, 15, 0, 240, "SSE comment on a silent stream"),
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
    # Issue 15's settings have defaults, so a Settings built by hand (tests) need not name them.
    max_parts: int = int(TUNING_DEFAULTS["max_parts"])
    """Most `sendtext` messages one text may be split into (`part`/`parts`)."""
    parts_ttl_seconds: int = int(TUNING_DEFAULTS["parts_ttl_seconds"])
    """How long the parts of an incomplete upload are kept; a part after that is refused as expired."""
    attachments_bucket: str = ""
    """The private bucket of attachment uploads (empty: `attach` is off)."""
    attachment_ttl_days: int = DEFAULT_ATTACHMENT_TTL_DAYS
    """How long an attachment lives: the bucket's lifecycle expiry, and its record's."""
    sse_keepalive_seconds: int = int(TUNING_DEFAULTS["sse_keepalive_seconds"])
    """Silence after which a streamed HTTP answer sends an SSE comment line (0: never)."""

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            table_name=os.environ.get(env_vars.TABLE_NAME, ""),
            model_id=os.environ.get(env_vars.MODEL_ID, ""),
            max_tokens_default=env_int(env_vars.MAX_TOKENS_DEFAULT, DEFAULT_MAX_TOKENS),
            max_tokens_limit=env_int(env_vars.MAX_TOKENS_LIMIT, 8192),
            connections_endpoint=os.environ.get(env_vars.CONNECTIONS_ENDPOINT) or None,
            connection_ttl_seconds=env_int(env_vars.CONNECTION_TTL_SECONDS, DEFAULT_CONNECTION_TTL_SECONDS),
            attachments_bucket=os.environ.get(env_vars.ATTACHMENTS_BUCKET, ""),
            attachment_ttl_days=env_int(env_vars.ATTACHMENT_TTL_DAYS, DEFAULT_ATTACHMENT_TTL_DAYS),
            **{
                tunable.name: (_float if isinstance(tunable.default, float) else env_int)(tunable.env, tunable.default)
                for tunable in TUNABLES
            },
        )


@cache
def settings() -> Settings:
    """The settings of this execution environment (read once; tests call `settings.cache_clear()`)."""
    return Settings.from_env()
