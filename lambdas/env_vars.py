"""Every environment variable the functions read (`RELAY_*`): the one list the functions, the CDK stack and localgw
all name them from. Standard library only, so the stack imports it without the Lambda package's dependencies.
"""

from __future__ import annotations

from typing import Final

# Table and connections.
TABLE_NAME: Final = "RELAY_TABLE_NAME"
CONNECTIONS_ENDPOINT: Final = "RELAY_CONNECTIONS_ENDPOINT"
CONNECTION_TTL_SECONDS: Final = "RELAY_CONNECTION_TTL_SECONDS"

# Models and requests.
MODELS: Final = "RELAY_MODELS"
"""The model catalogue as JSON (docs/models.md)."""
MODEL_ID: Final = "RELAY_MODEL_ID"
"""The single Bedrock model served when `RELAY_MODELS` is not set."""
MAX_TOKENS_DEFAULT: Final = "RELAY_MAX_TOKENS_DEFAULT"
MAX_TOKENS_LIMIT: Final = "RELAY_MAX_TOKENS_LIMIT"
MAX_TEXT_CHARS: Final = "RELAY_MAX_TEXT_CHARS"
MAX_PARTS: Final = "RELAY_MAX_PARTS"
PARTS_TTL_SECONDS: Final = "RELAY_PARTS_TTL_SECONDS"

# Attachments (lambdas/attachments).
ATTACHMENTS_BUCKET: Final = "RELAY_ATTACHMENTS_BUCKET"
"""The private bucket attachments are uploaded to; empty: the `attach` action is off."""
ATTACHMENT_TTL_DAYS: Final = "RELAY_ATTACHMENT_TTL_DAYS"

# Delivery and the answer's guards.
COALESCE_MS: Final = "RELAY_COALESCE_MS"
COALESCE_MAX_CHARS: Final = "RELAY_COALESCE_MAX_CHARS"
GONE_GRACE_SECONDS: Final = "RELAY_GONE_GRACE_SECONDS"
TIME_GUARD_MS: Final = "RELAY_TIME_GUARD_MS"
POST_MAX_ATTEMPTS: Final = "RELAY_POST_MAX_ATTEMPTS"
CONTROL_POLL_MS: Final = "RELAY_CONTROL_POLL_MS"

# Retention.
ANSWER_TTL_SECONDS: Final = "RELAY_ANSWER_TTL_SECONDS"
CONVERSATION_TTL_SECONDS: Final = "RELAY_CONVERSATION_TTL_SECONDS"
HISTORY_MAX_CHARS: Final = "RELAY_HISTORY_MAX_CHARS"

# Quotas.
QUOTA_INFLIGHT: Final = "RELAY_QUOTA_INFLIGHT"
QUOTA_DAILY_OUTPUT_TOKENS: Final = "RELAY_QUOTA_DAILY_OUTPUT_TOKENS"

# The $connect authorizer (lambdas.auth.config says what each means).
AUTH_ISSUER: Final = "RELAY_AUTH_ISSUER"
AUTH_AUDIENCE: Final = "RELAY_AUTH_AUDIENCE"
AUTH_TOKEN_USE: Final = "RELAY_AUTH_TOKEN_USE"
AUTH_JWKS_URL: Final = "RELAY_AUTH_JWKS_URL"
AUTH_OIDC_DISCOVERY: Final = "RELAY_AUTH_OIDC_DISCOVERY"
AUTH_LEEWAY_SECONDS: Final = "RELAY_AUTH_LEEWAY_SECONDS"

# The OpenAI-compatible HTTP channel (lambdas.openai_http).
HTTP_TIMEOUT_SECONDS: Final = "RELAY_HTTP_TIMEOUT_SECONDS"
"""The HTTP function's timeout, for its time guard when the Lambda Web Adapter gives no deadline."""
SSE_KEEPALIVE_SECONDS: Final = "RELAY_SSE_KEEPALIVE_SECONDS"
"""Seconds of silence after which a streamed HTTP answer sends an SSE comment (`: keep-alive`); 0: never."""

# Operations: `true` turns on Powertools Tracer (X-Ray); anything else leaves it unimported (lambdas.tracing).
TRACING: Final = "RELAY_TRACING"
