"""Typed events of an answer, and the replies of the other actions.

An answer's frames become events in `seq` order: `Start`, then `Text`, `Reasoning` and `ToolUse` (protocol v2) as
they come, then exactly one `Done` or `Error`. Each event keeps the frame it came from in `raw`. Frame types this
version does not know are skipped (their `seq` still counts); a new one is taught in `PARSERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

from relay_client.errors import RelayError


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts reported by the model (either may be None when the upstream does not report it);
    `estimated` names the counts the relay estimated instead."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    estimated: tuple[str, ...] = ()
    cache_read_input_tokens: int | None = None
    cache_write_input_tokens: int | None = None

    @classmethod
    def from_json(cls, value: Any) -> Usage:
        value = value if isinstance(value, dict) else {}
        return cls(
            value.get("inputTokens"),
            value.get("outputTokens"),
            tuple(value.get("estimated") or ()),
            value.get("cacheReadInputTokens"),
            value.get("cacheWriteInputTokens"),
        )


@dataclass(frozen=True, slots=True)
class Metrics:
    """`first_token_ms`: relay receiving the request → the model's first token; `total_ms`: → the `done` frame."""

    first_token_ms: int | None = None
    total_ms: int | None = None

    @classmethod
    def from_json(cls, value: Any) -> Metrics:
        value = value if isinstance(value, dict) else {}
        return cls(value.get("firstTokenMs"), value.get("totalMs"))


@dataclass(frozen=True, slots=True)
class Start:
    """The request was accepted: `model` answers it, in conversation `conversation_id`."""

    request_id: str
    seq: int
    model: str | None
    conversation_id: str | None
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class Text:
    """The next piece of the answer's text (a `delta` frame)."""

    request_id: str
    seq: int
    text: str
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's reasoning (protocol v2), never part of the answer's text; `redacted`: the model's
    reasoning was withheld (no text)."""

    request_id: str
    seq: int
    text: str
    redacted: bool = False
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The model calls a tool (protocol v2): run it, then `ask(conversation_id=..., tool_results=[...])` with
    `{"toolUseId": tool_use_id, "content": ...}`. The answer ends with `stop_reason == "tool_use"`."""

    request_id: str
    seq: int
    tool_use_id: str
    name: str
    input: dict[str, Any]
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class Done:
    """The answer is complete. `stop_reason`: end_turn, max_tokens, stop_sequence, content_filtered, tool_use,
    time_limit or cancelled."""

    request_id: str
    seq: int | None
    stop_reason: str
    usage: Usage
    metrics: Metrics
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)


@dataclass(frozen=True, slots=True)
class Error:
    """The answer failed (`seq` set: after the text so far) or was refused before it started (`seq` None).
    `error` is the typed exception that `Answer.text()` / `Answer.result()` raise."""

    request_id: str
    seq: int | None
    error: RelayError
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def message(self) -> str:
        return self.error.message


Event = Union[Start, Text, Reasoning, ToolUse, Done, Error]  # noqa: UP007 - a runtime alias, Python 3.10
"""An event of an answer."""

TERMINAL_TYPES = frozenset({"done", "error"})


def _start(frame: dict[str, Any]) -> Start:
    return Start(frame["requestId"], frame["seq"], frame.get("model"), frame.get("conversationId"), frame)


def _text(frame: dict[str, Any]) -> Text:
    return Text(frame["requestId"], frame["seq"], str(frame.get("text") or ""), frame)


def _reasoning(frame: dict[str, Any]) -> Reasoning:
    return Reasoning(frame["requestId"], frame["seq"], str(frame.get("text") or ""), bool(frame.get("redacted")), frame)


def _tool_use(frame: dict[str, Any]) -> ToolUse:
    tool_input = frame.get("input")
    return ToolUse(
        frame["requestId"],
        frame["seq"],
        str(frame.get("toolUseId") or ""),
        str(frame.get("name") or ""),
        tool_input if isinstance(tool_input, dict) else {},
        frame,
    )


def _done(frame: dict[str, Any]) -> Done:
    return Done(
        frame["requestId"],
        frame.get("seq"),
        str(frame.get("stopReason") or "end_turn"),
        Usage.from_json(frame.get("usage")),
        Metrics.from_json(frame.get("metrics")),
        frame,
    )


def _error(frame: dict[str, Any]) -> Error:
    return Error(frame.get("requestId") or "", frame.get("seq"), RelayError.from_frame(frame), frame)


PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "start": _start,
    "delta": _text,
    "reasoning": _reasoning,
    "tool_use": _tool_use,
    "done": _done,
    "error": _error,
}
"""Frame type → event. The single place a new frame type of the answer stream is taught to the client."""


def parse_event(frame: dict[str, Any]) -> Event | None:
    """The event for one frame of an answer, or None for a frame type this version does not know."""
    parser = PARSERS.get(str(frame.get("type")))
    return parser(frame) if parser else None


@dataclass(frozen=True, slots=True)
class Result:
    """A finished answer: its whole text, why it stopped, usage and timings; its reasoning and tool calls
    (protocol v2; with `stop_reason == "tool_use"` the model waits for the calls' results)."""

    request_id: str
    text: str
    stop_reason: str
    usage: Usage
    metrics: Metrics
    model: str | None
    conversation_id: str | None
    reasoning: str = ""
    tool_uses: tuple[ToolUse, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    """A model the relay may be asked for (pass `id` as `ask(model=...)`)."""

    id: str
    provider: str | None
    default: bool
    tools: bool = False
    """Protocol v2: the model can call tools (False from a relay that does not say)."""
    reasoning: bool = False
    attachments: tuple[str, ...] = ()
    """The kinds of attachment it takes: "image", "document"."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of a conversation. `status` is `partial` for an answer that was cancelled, failed, hit the time
    limit or lost its connection; `stop` is its stopReason or error code."""

    turn: int
    role: str
    text: str
    at: str | None = None
    request_id: str | None = None
    status: str | None = None
    stop: str | None = None
    tool_uses: tuple[dict[str, Any], ...] = ()
    tool_results: tuple[dict[str, Any], ...] = ()
    reasoning: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class History:
    """The turns of a conversation, oldest first (a turn the relay split across frames is joined again)."""

    conversation_id: str
    title: str | None
    turns: list[Turn]


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    conversation_id: str
    title: str | None
    updated_at: str | None
    turns: int | None


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """One page of your conversations, newest first; pass `next` as `conversations(cursor=...)` (None: no more)."""

    conversations: list[ConversationSummary]
    next: str | None
