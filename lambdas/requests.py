"""What clients may send: one schema per action, validated strictly; every failure names its field."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from lambdas.config import settings
from lambdas.protocol import REQUEST_ID_PATTERN

RequestId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
ConversationId = Annotated[str, StringConstraints(pattern=REQUEST_ID_PATTERN)]
MAX_SYSTEM_CHARS = 32_000


class BadRequestError(ValueError):
    """The message cannot be accepted; `field` names the offending field (None when the body itself is wrong)."""

    def __init__(self, message: str, field: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.request_id = request_id


class _Strict(BaseModel):
    # Unknown fields are refused: a typo such as "maxtokens" must not be silently ignored.
    # defer_build: each function validates one action, so only that action's schema is built (at its first use).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class SendText(_Strict):
    action: Literal["sendtext"]
    text: Annotated[str, StringConstraints(min_length=1)]
    requestId: RequestId | None = None
    system: Annotated[str, StringConstraints(max_length=MAX_SYSTEM_CHARS)] | None = None
    maxTokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    model: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    conversationId: ConversationId | None = None


class Cancel(_Strict):
    action: Literal["cancel"]
    requestId: RequestId


class Resume(_Strict):
    action: Literal["resume"]
    requestId: RequestId
    after: Annotated[int, Field(ge=-1)]
    """The last seq the client received (-1: none)."""


class History(_Strict):
    action: Literal["history"]
    conversationId: ConversationId


class Conversations(_Strict):
    action: Literal["conversations"]
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    limit: Annotated[int, Field(ge=1, le=50)] = 20


Message = TypeVar("Message", bound=BaseModel)


def parse_body(body: str | None) -> dict[str, Any]:
    """The message as a JSON object, or BadRequestError."""
    try:
        value = json.loads(body or "")
    except ValueError as exc:
        raise BadRequestError("the message is not valid JSON") from exc
    if not isinstance(value, dict):
        raise BadRequestError("the message must be a JSON object")
    return value


def parse(schema: type[Message], message: dict[str, Any]) -> Message:
    """Validate `message` against an action's schema; BadRequestError names the first offending field."""
    request_id = message.get("requestId") if isinstance(message.get("requestId"), str) else None
    try:
        return schema.model_validate(_ints_as_floats(message, "temperature"))
    except ValidationError as exc:
        raise _bad_request(exc, request_id) from None


def parse_sendtext(message: dict[str, Any]) -> SendText:
    """Validate a sendtext message against the schema and the configured limits."""
    limits = settings()
    request = parse(SendText, message)
    if len(request.text) > limits.max_text_chars:
        raise BadRequestError(
            f"text: at most {limits.max_text_chars} characters (got {len(request.text)})", "text", request.requestId
        )
    if request.maxTokens is not None and request.maxTokens > limits.max_tokens_limit:
        raise BadRequestError(f"maxTokens: at most {limits.max_tokens_limit}", "maxTokens", request.requestId)
    return request


def _ints_as_floats(message: dict[str, Any], *fields: str) -> dict[str, Any]:
    # Strict mode would refuse `"temperature": 1`; an integer is a fine float on the wire.
    fixed = dict(message)
    for name in fields:
        if type(fixed.get(name)) is int:
            fixed[name] = float(fixed[name])
    return fixed


def _bad_request(exc: ValidationError, request_id: str | None) -> BadRequestError:
    error = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in error["loc"]) or None
    if error["type"] == "extra_forbidden":
        message = f"{field}: unknown field"
    elif error["type"] == "missing":
        message = f"{field}: required"
    else:
        message = f"{field}: {error['msg']}"
    # A requestId that failed validation must not be echoed back as if it were accepted.
    echo = None if field == "requestId" else request_id
    return BadRequestError(message, field, echo)
