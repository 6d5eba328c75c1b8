"""What clients may send: one schema per action, validated strictly; every failure names its field.

The schemas are msgspec Structs rather than pydantic models: the same strict typing and constraints for ~3 ms of
import instead of ~50 ms, which is most of what a cold start paid on top of boto3 (docs/benchmark.md, "Cold
init"), and a ~0.3 MB wheel in the Lambda asset instead of ~7 MB.
"""

from __future__ import annotations

import json
import re
import reprlib
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

from lambdas.config import settings
from lambdas.protocol import REQUEST_ID_PATTERN

RequestId = Annotated[str, Meta(pattern=REQUEST_ID_PATTERN)]
ConversationId = Annotated[str, Meta(pattern=REQUEST_ID_PATTERN)]
AttachmentId = Annotated[str, Meta(pattern=REQUEST_ID_PATTERN)]
MAX_ATTACHMENTS = 25
"""Attachment ids one `sendtext` may name: the most images (20) and documents (5) a model request takes."""
MAX_SYSTEM_CHARS = 32_000
ECHO_CHARS = 100
"""The most characters of a client's input any reply repeats back (a field name, an action, a value)."""


class BadRequestError(ValueError):
    """The message cannot be accepted; `field` names the offending field (None when the body itself is wrong)."""

    def __init__(self, message: str, field: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.request_id = request_id


class Schema(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every action's schema. Unknown fields are refused: a typo such as "maxtokens" must not be silently
    ignored. Types are strict (no "5" for 5, no true for 1); an integer is accepted where a number is expected."""


class SendText(Schema):
    action: Literal["sendtext"]
    text: Annotated[str, Meta(min_length=1)] = ""
    """Required, except with `toolResults` (absent: ""; a text sent must not be empty)."""
    requestId: RequestId | None = None
    system: Annotated[str, Meta(max_length=MAX_SYSTEM_CHARS)] | None = None
    maxTokens: Annotated[int, Meta(ge=1)] | None = None
    temperature: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    model: Annotated[str, Meta(min_length=1, max_length=128)] | None = None
    conversationId: ConversationId | None = None
    # Protocol v2 (lambdas.answer.tools validates their contents, naming the field).
    tools: list[Any] | None = None
    toolChoice: str | dict[str, Any] | None = None
    toolResults: list[Any] | None = None
    reasoning: bool | dict[str, Any] | None = None
    # Long texts and attachments (issue 15).
    attachments: Annotated[list[AttachmentId], Meta(min_length=1, max_length=MAX_ATTACHMENTS)] | None = None
    """Ids from `attach` uploads, sent to the model with the text (lambdas/attachments)."""
    part: Annotated[int, Meta(ge=0)] | None = None
    """A long text sent as several messages: this message's 0-based index (lambdas/answer/parts.py)."""
    parts: Annotated[int, Meta(ge=1)] | None = None
    """How many messages the text is sent in; every part names the same `parts` and `requestId`."""

    def __post_init__(self) -> None:
        if not self.text and self.toolResults is None:
            # msgspec turns this into its own "missing field" refusal, worded as for any required field.
            raise ValueError("Object missing required field `text`")


class Attach(Schema):
    """`attach`: ask for an upload URL (an S3 presigned POST) for one file."""

    action: Literal["attach"]
    fileName: Annotated[str, Meta(min_length=1, max_length=255)]
    contentType: Annotated[str, Meta(min_length=1, max_length=255)]
    size: Annotated[int, Meta(ge=1)]


class Cancel(Schema):
    action: Literal["cancel"]
    requestId: RequestId


class Resume(Schema):
    action: Literal["resume"]
    requestId: RequestId
    after: Annotated[int, Meta(ge=-1)]
    """The last seq the client received (-1: none)."""


class History(Schema):
    action: Literal["history"]
    conversationId: ConversationId


class Conversations(Schema):
    action: Literal["conversations"]
    cursor: Annotated[str, Meta(min_length=1, max_length=2048)] | None = None
    limit: Annotated[int, Meta(ge=1, le=50)] = 20


Message = TypeVar("Message", bound=Schema)


class NotJsonConstantError(ValueError):
    """NaN, Infinity or -Infinity: Python's json reads them, but they are not JSON."""


NOT_UNICODE = "not valid Unicode (a lone UTF-16 surrogate such as \\ud800 has no character)"


def _refuse_constant(name: str) -> Any:
    raise NotJsonConstantError(f"{name} is not a JSON number")


def loads_json(text: str | bytes) -> Any:
    """`json.loads`, refusing NaN and Infinity: kept, they would come back out as bare `NaN` in frames, history
    and model requests, which no strict JSON parser (a browser's JSON.parse, Bedrock) reads."""
    return json.loads(text, parse_constant=_refuse_constant)


def invalid_unicode_at(value: Any) -> str | None:
    """The JSON path (`""` for `value` itself, `[2].content`, `.a.b`) of the first string or object key in
    `value` that is not valid Unicode (a lone surrogate), or None. Iterative: no nesting depth can exhaust the
    stack."""
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if not _is_unicode(item):
                return path
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not _is_unicode(key):
                    return path
                pending.append((f"{path}.{key}", inner))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", inner) for index, inner in enumerate(item))
    return None


def parse_body(body: str | None) -> dict[str, Any]:
    """The message as a JSON object, or BadRequestError."""
    try:
        value = loads_json(body or "")
    except RecursionError:
        # ~1,000 levels of [[[…]]] fit in 2 KB; no message of ours nests more than one level.
        raise BadRequestError("the message nests too deeply to be read") from None
    except NotJsonConstantError as exc:
        raise BadRequestError(f"the message is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise BadRequestError("the message is not valid JSON") from exc
    if not isinstance(value, dict):
        raise BadRequestError("the message must be a JSON object")
    return value


def parse(schema: type[Message], message: dict[str, Any]) -> Message:
    """Validate `message` against an action's schema; BadRequestError names the first offending field."""
    request_id = valid_request_id(message.get("requestId"))
    _refuse_invalid_unicode(message, request_id)
    try:
        return msgspec.convert(message, schema, strict=True)
    except msgspec.ValidationError as exc:
        raise _bad_request(str(exc), request_id) from None
    except RecursionError:
        raise BadRequestError("the message nests too deeply to be read", None, request_id) from None


def valid_request_id(value: Any) -> str | None:
    """`value` if it is a well-formed requestId, else None: only a valid requestId is ever echoed back."""
    return value if isinstance(value, str) and re.match(REQUEST_ID_PATTERN, value) else None


def clip(text: str, limit: int = ECHO_CHARS) -> str:
    """`text` made safe to echo: at most `limit` characters (the last an ellipsis when cut), and a lone surrogate
    written as its escape (`\\ud800`) since it has no UTF-8 form."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_ECHO_REPR = reprlib.Repr()
_ECHO_REPR.maxlevel = 3
_ECHO_REPR.maxstring = ECHO_CHARS
_ECHO_REPR.maxother = ECHO_CHARS


def echo(value: Any) -> str:
    """Any JSON value from a client, written for a message in at most ECHO_CHARS characters: strings as their
    repr, containers shortened (and never walked deeper than a few levels, however deeply they nest)."""
    return clip(repr(value) if isinstance(value, str) else _ECHO_REPR.repr(value))


def _refuse_invalid_unicode(message: dict[str, Any], request_id: str | None) -> None:
    """A JSON escape can carry a lone surrogate (`"\\ud800"`), which no UTF-8 text can hold: storing or sending it
    fails later. It is the client's mistake, so it is refused here as bad_request naming the field."""
    for name, value in message.items():
        if not _is_unicode(name):
            raise BadRequestError(f"{clip(name)}: a field name must be valid Unicode", clip(name), request_id)
        # tools, toolResults and reasoning nest: a surrogate deep in a tool result failed the store (`internal`).
        at = invalid_unicode_at(value)
        if at is not None:
            raise BadRequestError(f"{clip(name + at)}: {NOT_UNICODE}", clip(name), request_id)


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    _check_parts(request, limits.max_parts)
    if request.attachments is not None and len(set(request.attachments)) != len(request.attachments):
        raise BadRequestError("attachments: an id is named twice", "attachments", request.requestId)
    return request


def _check_parts(request: SendText, max_parts: int) -> None:
    """`part` and `parts` come together, with a requestId, and the index is within the count."""
    if request.part is None and request.parts is None:
        return
    if request.parts is None:
        raise BadRequestError("parts: required with part", "parts", request.requestId)
    if request.part is None:
        raise BadRequestError("part: required with parts", "part", request.requestId)
    if request.requestId is None:
        raise BadRequestError("requestId: required when a text is sent in parts", "requestId")
    if request.parts > max_parts:
        raise BadRequestError(f"parts: at most {max_parts}", "parts", request.requestId)
    if request.part >= request.parts:
        message = f"part: {request.part} is out of range for {request.parts} parts (0 to {request.parts - 1})"
        raise BadRequestError(message, "part", request.requestId)


# msgspec's messages for a flat object: "Expected `int` >= 1 - at `$.maxTokens`", "Object contains unknown field
# `maxtokens`", "Object missing required field `text`". Our schemas have no nesting, so `$.name` is the whole path.
_AT_FIELD = re.compile(r"^(?P<problem>.*) - at `\$\.(?P<field>[^`]+)`$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$", re.DOTALL)


def _bad_request(problem: str, request_id: str | None) -> BadRequestError:
    # msgspec's message repeats the field name, which the client chose: each echo of it is clipped.
    if found := _UNKNOWN.match(problem):
        field = clip(found["field"])
        message = f"{field}: unknown field"
    elif found := _MISSING.match(problem):
        field = clip(found["field"])
        message = f"{field}: required"
    elif found := _AT_FIELD.match(problem):
        field = clip(found["field"])
        message = f"{field}: {clip(_lower_first(found['problem']), 4 * ECHO_CHARS)}"
    else:
        field, message = None, clip(_lower_first(problem), 4 * ECHO_CHARS)
    # A requestId that failed validation must not be echoed back as if it were accepted.
    echo = None if field == "requestId" else request_id
    return BadRequestError(message, field, echo)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
