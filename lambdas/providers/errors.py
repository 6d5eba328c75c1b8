"""Upstream failures, translated at the edge into the normalized `UpstreamError` event."""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from lambdas.providers.events import ErrorKind, UpstreamError

# Keys are lower-cased: in-stream errors arrive as lowerCamel (`throttlingException`), pre-stream ones as
# PascalCase (`ThrottlingException`), and SageMaker's events drop the suffix (`ModelStreamError`).
_KIND_BY_CODE: dict[str, ErrorKind] = {
    "throttlingexception": ErrorKind.THROTTLED,
    "toomanyrequestsexception": ErrorKind.THROTTLED,
    "servicequotaexceededexception": ErrorKind.THROTTLED,
    "modelstreamerrorexception": ErrorKind.MODEL_ERROR,
    "modelstreamerror": ErrorKind.MODEL_ERROR,
    "modelerror": ErrorKind.MODEL_ERROR,
    "modelerrorexception": ErrorKind.MODEL_ERROR,
    "validationexception": ErrorKind.VALIDATION,
    "validationerror": ErrorKind.VALIDATION,
    "resourcenotfoundexception": ErrorKind.VALIDATION,
    "accessdeniedexception": ErrorKind.ACCESS_DENIED,
    "unrecognizedclientexception": ErrorKind.ACCESS_DENIED,
    "expiredtokenexception": ErrorKind.ACCESS_DENIED,
    "modeltimeoutexception": ErrorKind.UNAVAILABLE,
    "modelnotreadyexception": ErrorKind.UNAVAILABLE,
    "serviceunavailableexception": ErrorKind.UNAVAILABLE,
    "serviceunavailable": ErrorKind.UNAVAILABLE,
    "internalserverexception": ErrorKind.UNAVAILABLE,
    "internalfailure": ErrorKind.UNAVAILABLE,
    "internalstreamfailure": ErrorKind.UNAVAILABLE,
    "internaldependencyexception": ErrorKind.UNAVAILABLE,
}

_UNAVAILABLE_TRANSPORT = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    ResponseStreamingError,
    # botocore lets urllib3's errors through while an event stream is read (e.g. the connection drops
    # mid-chunk: `ProtocolError("Connection broken: IncompleteRead")`), and the OpenAI provider uses urllib3.
    Urllib3Error,
    # A socket closed or reset under the reader.
    ConnectionError,
    TimeoutError,
)

UPSTREAM_FAILURES: tuple[type[Exception], ...] = (ClientError, BotoCoreError, Urllib3Error, OSError)
"""What a provider catches around upstream I/O and turns into one `UpstreamError` event with `from_exception`."""


def kind_for_code(code: str | None, http_status: int | None = None) -> ErrorKind:
    """The error kind for a provider's error code, falling back on the HTTP status class."""
    kind = _KIND_BY_CODE.get((code or "").lower())
    if kind is not None:
        return kind
    if http_status == 429:
        return ErrorKind.THROTTLED
    if http_status in (401, 403):
        return ErrorKind.ACCESS_DENIED
    if http_status is not None and http_status >= 500:
        return ErrorKind.UNAVAILABLE
    if http_status is not None and 400 <= http_status < 500:
        return ErrorKind.VALIDATION
    return ErrorKind.INTERNAL


def from_exception(exc: Exception) -> UpstreamError:
    """Translate what botocore raised (before or while streaming) into one normalized error event."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        kind = kind_for_code(code, status)
        # SageMaker wraps the container's own refusal as 424 ModelError; a 4xx from the container means the
        # request was invalid, which the client can fix — not a model failure.
        original = exc.response.get("OriginalStatusCode")
        if code == "ModelError" and isinstance(original, int) and 400 <= original < 500:
            kind = ErrorKind.VALIDATION
        return UpstreamError(kind, error.get("Message") or str(exc), upstream_code=code)
    if isinstance(exc, _UNAVAILABLE_TRANSPORT):
        return UpstreamError(ErrorKind.UNAVAILABLE, str(exc), upstream_code=type(exc).__name__)
    if isinstance(exc, BotoCoreError):
        return UpstreamError(ErrorKind.INTERNAL, str(exc), upstream_code=type(exc).__name__)
    return UpstreamError(ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}", upstream_code=type(exc).__name__)
