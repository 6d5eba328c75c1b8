"""The body of `POST /v1/chat/completions`, validated strictly: the fields OpenAI's API defines that the relay
serves, with the relay's limits; an unknown field is refused (a typo must not be silently ignored), and every
refusal names its `param` the way OpenAI does (`messages[2].content`).

Tools (`tools`, `tool_choice`, `tool` messages, assistant `tool_calls`) and `reasoning_effort` are mapped onto the
relay's protocol v2 request by `lambdas.openai_http.mapping`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from lambdas.openai_http.errors import ApiError, bad_request
from lambdas.requests import NOT_UNICODE, NotJsonConstantError, clip, invalid_unicode_at, loads_json

MAX_MESSAGES = 1000
MAX_STOP_SEQUENCES = 4
"""OpenAI's limit on `stop`."""
MAX_STOP_CHARS = 200
MAX_TOOLS = 128
"""OpenAI's limit on `tools`."""
MAX_NAME_CHARS = 256

Role = Literal["system", "developer", "user", "assistant", "tool"]


class Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Unknown fields are refused; types are strict (no "5" for 5)."""


class ContentPart(Strict):
    """A part of a message's content. Only `text` parts are served; the others are named in the refusal."""

    type: Annotated[str, Meta(min_length=1, max_length=64)]
    text: str | None = None
    image_url: Any = None
    input_audio: Any = None
    file: Any = None
    refusal: str | None = None


class FunctionCall(Strict):
    name: Annotated[str, Meta(min_length=1, max_length=MAX_NAME_CHARS)]
    arguments: str


class ToolCall(Strict):
    id: Annotated[str, Meta(min_length=1, max_length=MAX_NAME_CHARS)]
    type: Literal["function"]
    function: FunctionCall


class ChatMessage(Strict):
    role: Role
    content: str | list[ContentPart] | None = None
    name: Annotated[str, Meta(max_length=MAX_NAME_CHARS)] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: Annotated[str, Meta(max_length=MAX_NAME_CHARS)] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    """Accepted and dropped: reasoning servers send it back with the assistant message, but it carries no signature,
    so no upstream would take it back as reasoning."""


class FunctionDefinition(Strict):
    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Strict):
    type: Literal["function"]
    function: FunctionDefinition


class StreamOptions(Strict):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class ChatRequest(Strict):
    model: Annotated[str, Meta(min_length=1, max_length=128)]
    messages: Annotated[list[ChatMessage], Meta(min_length=1, max_length=MAX_MESSAGES)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Meta(ge=1)] | None = None
    # The WebSocket channel's range (`temperature` of sendtext), which every served model accepts.
    temperature: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    stop: (
        Annotated[str, Meta(min_length=1, max_length=MAX_STOP_CHARS)]
        | Annotated[
            list[Annotated[str, Meta(min_length=1, max_length=MAX_STOP_CHARS)]], Meta(max_length=MAX_STOP_SEQUENCES)
        ]
        | None
    ) = None
    n: Annotated[int, Meta(ge=1, le=1)] | None = None
    """Only one choice per request; accepted because some clients always send `n: 1`."""
    user: Annotated[str, Meta(max_length=MAX_NAME_CHARS)] | None = None
    """Accepted and ignored: the caller is the token's subject, never a field of the body."""
    tools: Annotated[list[Tool], Meta(max_length=MAX_TOOLS)] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None


def parse_request(body: bytes) -> ChatRequest:
    """The validated request, or ApiError 400 naming the offending `param`."""
    try:
        value = loads_json(body or b"")
    except RecursionError:
        raise bad_request("the body nests too deeply to be read", None) from None
    except NotJsonConstantError as exc:
        raise bad_request(f"the body is not valid JSON: {exc}", None) from None
    except ValueError:
        raise bad_request("the body is not valid JSON; send a JSON object with `model` and `messages`", None) from None
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object with `model` and `messages`", None)
    # A lone surrogate anywhere (a tool's name, schema, a stop sequence) has no UTF-8 form: the model call would fail.
    if (at := invalid_unicode_at(value)) is not None:
        param = clip(at.lstrip(".")) or None
        raise bad_request(f"{param}: {NOT_UNICODE}", param)
    try:
        return msgspec.convert(value, ChatRequest, strict=True)
    except msgspec.ValidationError as exc:
        raise _refusal(str(exc)) from None
    except RecursionError:
        raise bad_request("the body nests too deeply to be read", None) from None


# msgspec says "Expected `int` >= 1 - at `$.max_tokens`", "Object contains unknown field `foo` - at `$.messages[0]`",
# "Object missing required field `model`".
_AT = re.compile(r"^(?P<problem>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_FIELD = re.compile(r"field `(?P<field>[^`]+)`")


def _refusal(problem: str) -> ApiError:
    found = _AT.match(problem)
    assert found is not None  # the pattern matches any text
    path = (found["path"] or "").lstrip(".")
    text = found["problem"]
    named = _FIELD.search(text)
    if named and ("unknown field" in text or "missing required field" in text):
        path = f"{path}.{named['field']}" if path else named["field"]
        text = "unknown field" if "unknown field" in text else "required"
    param = _clip(path) or None
    message = f"{param}: {_clip(text[:1].lower() + text[1:], 300)}" if param else _clip(text, 300)
    return bad_request(message, param)


def _clip(text: str, limit: int = 100) -> str:
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
