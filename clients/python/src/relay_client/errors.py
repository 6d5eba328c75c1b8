"""Typed errors: every `error` frame of the relay, and the few failures only a client can see.

Each error code of the protocol has its own subclass of `RelayError`, so callers can write
`except RateLimitedError as exc: await asyncio.sleep(exc.retry_after or 1)`; a code this version does not know
still arrives as a plain `RelayError` with its `code`.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    """The `code` of an error. The first group comes from the relay's `error` frames (docs/protocol.md); the
    second is raised by the client itself and never appears on the wire."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_ACTION = "unknown_action"
    THROTTLED = "throttled"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    MODEL_ERROR = "model_error"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONNECTION_LOST = "connection_lost"
    CONFLICT = "conflict"
    INTERNAL = "internal"
    # client side
    MESSAGE_TOO_BIG = "message_too_big"
    CONNECTION_FAILED = "connection_failed"
    UNAUTHORIZED = "unauthorized"
    CLOSED = "closed"
    TIMEOUT = "timeout"
    UPLOAD_FAILED = "upload_failed"


class RelayError(Exception):
    """An error of the relay (an `error` frame) or of the client's connection to it.

    `code`: one of ErrorCode's values (or a newer code, as a string); `retryable`: asking again later may work;
    `retry_after`: seconds to wait first (rate_limited); `field`: the request field at fault (bad_request);
    `request_id`: the answer it ended, when it ended one; `frame`: the error frame as received (None for
    client-side errors).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        field: str | None = None,
        request_id: str | None = None,
        frame: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.field = field
        self.request_id = request_id
        self.frame = frame

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> RelayError:
        """The typed error for an `error` frame (the subclass its `code` names)."""
        code = str(frame.get("code") or "internal")
        retry_after = frame.get("retryAfter")
        field = frame.get("field")
        request_id = frame.get("requestId")
        return _BY_CODE.get(code, RelayError)(
            code,
            str(frame.get("message") or code),
            retryable=bool(frame.get("retryable", False)),
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            field=field if isinstance(field, str) else None,
            request_id=request_id if isinstance(request_id, str) else None,
            frame=frame,
        )

    def __repr__(self) -> str:
        details = "".join(
            f", {name}={value!r}"
            for name, value in (
                ("retryable", self.retryable),
                ("retry_after", self.retry_after),
                ("field", self.field),
                ("request_id", self.request_id),
            )
            if value not in (None, False)
        )
        return f"{type(self).__name__}({self.code!r}, {self.message!r}{details})"


class BadRequestError(RelayError):
    """The message broke a rule (`field` names the field), or the model rejected the request."""


class UnknownActionError(RelayError):
    """The action names no route; `actions` lists the valid ones."""

    @property
    def actions(self) -> list[str]:
        return list((self.frame or {}).get("actions") or [])


class ThrottledError(RelayError):
    """The model's service throttled the request (retryable)."""


class UpstreamUnavailableError(RelayError):
    """The model's service was unreachable, timed out, or its stream ended early (retryable)."""


class ModelError(RelayError):
    """The model failed mid-answer, or the relay may not call it."""


class RateLimitedError(RelayError):
    """A per-user quota is spent; wait `retry_after` seconds."""


class ForbiddenError(RelayError):
    """The request names something that belongs to another user."""


class NotFoundError(RelayError):
    """The request names something that does not exist (a conversation, a requestId)."""


class ConnectionLostError(RelayError):
    """The answer was stopped because the client was away longer than the relay's grace period."""


class ConflictError(RelayError):
    """The answer was resumed on another connection (another client took it over)."""


class InternalError(RelayError):
    """A fault in the relay itself."""


class MessageTooBigError(RelayError):
    """The gateway closed the connection (1009) on this message, or no split into parts fits it (over 64 parts, or
    its fields other than text alone fill a frame): it is never sent (again)."""


class AttachmentRefusedError(BadRequestError):
    """`attach()` refused a file before uploading anything: `reason` is wrong_type, too_big or empty."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(ErrorCode.BAD_REQUEST.value, message, field="attachments")
        self.reason = reason


class UploadFailedError(RelayError):
    """The multipart POST of an attachment to its presigned URL failed."""


class ConnectionFailedError(RelayError):
    """The connection could not be (re)established within the allowed attempts."""


class UnauthorizedError(ConnectionFailedError):
    """The gateway refused the token (HTTP 401/403 on the WebSocket upgrade)."""


class ClientClosedError(RelayError):
    """The client was closed while this was in flight."""


class RequestTimeoutError(RelayError):
    """No reply within the client's request timeout."""


_BY_CODE: dict[str, type[RelayError]] = {
    ErrorCode.BAD_REQUEST.value: BadRequestError,
    ErrorCode.UNKNOWN_ACTION.value: UnknownActionError,
    ErrorCode.THROTTLED.value: ThrottledError,
    ErrorCode.UPSTREAM_UNAVAILABLE.value: UpstreamUnavailableError,
    ErrorCode.MODEL_ERROR.value: ModelError,
    ErrorCode.RATE_LIMITED.value: RateLimitedError,
    ErrorCode.FORBIDDEN.value: ForbiddenError,
    ErrorCode.NOT_FOUND.value: NotFoundError,
    ErrorCode.CONNECTION_LOST.value: ConnectionLostError,
    ErrorCode.CONFLICT.value: ConflictError,
    ErrorCode.INTERNAL.value: InternalError,
}
