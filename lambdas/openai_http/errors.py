"""Errors in OpenAI's shape: `{"error": {"message", "type", "code", "param"}}` with the HTTP status each SDK maps
to a typed exception (openai-python: 400 BadRequestError, 401 AuthenticationError, 403 PermissionDeniedError,
404 NotFoundError, 429 RateLimitError, 5xx InternalServerError).

The relay's own error codes (`lambdas.protocol.ErrorCode`) are translated here, once, so the HTTP channel reports
every failure the WebSocket channel can report, with the same meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.protocol import ErrorCode

INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
PERMISSION = "permission_error"
NOT_FOUND = "not_found_error"
RATE_LIMIT = "rate_limit_error"
SERVER = "server_error"

_STATUS_AND_TYPE: dict[str, tuple[int, str]] = {
    ErrorCode.BAD_REQUEST: (400, INVALID_REQUEST),
    ErrorCode.FORBIDDEN: (403, PERMISSION),
    ErrorCode.NOT_FOUND: (404, NOT_FOUND),
    ErrorCode.RATE_LIMITED: (429, RATE_LIMIT),
    # The upstream model throttled the relay: the SDKs retry a 429 with backoff, which is what helps here too.
    ErrorCode.THROTTLED: (429, RATE_LIMIT),
    ErrorCode.UPSTREAM_UNAVAILABLE: (503, SERVER),
    ErrorCode.MODEL_ERROR: (500, SERVER),
    ErrorCode.INTERNAL: (500, SERVER),
    ErrorCode.CONNECTION_LOST: (500, SERVER),
    ErrorCode.CONFLICT: (409, INVALID_REQUEST),
}


@dataclass(frozen=True, slots=True)
class ApiError(Exception):
    """A request refused or failed; `body()` is what the client receives, with `status`."""

    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    retry_after_s: int | None = None
    """Sent as `Retry-After` (429)."""

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after_s is None else {"Retry-After": str(self.retry_after_s)}


def bad_request(message: str, param: str | None, code: str | None = None) -> ApiError:
    return ApiError(400, message, INVALID_REQUEST, code, param)


def unauthorized(message: str) -> ApiError:
    # OpenAI answers a bad key with 401, type invalid_request_error, code invalid_api_key; the type here says more.
    return ApiError(401, message, AUTHENTICATION, "invalid_api_key")


def unknown_model(message: str) -> ApiError:
    return ApiError(404, message, INVALID_REQUEST, "model_not_found", "model")


def from_frame(frame: dict[str, Any]) -> ApiError:
    """The error of a relay `error` frame (`lambdas.protocol.error_frame`), in OpenAI's terms."""
    code = str(frame.get("code") or ErrorCode.INTERNAL)
    status, kind = _STATUS_AND_TYPE.get(code, (500, SERVER))
    retry_after = frame.get("retryAfter")
    return ApiError(
        status,
        str(frame.get("message") or "The relay failed."),
        kind,
        code,
        frame.get("field"),
        retry_after if isinstance(retry_after, int) else (1 if code == ErrorCode.THROTTLED else None),
    )
