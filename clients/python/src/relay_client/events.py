"""Typed events of an answer, and the replies of the other actions.

An answer's frames become events in `seq` order: `Start`, `Text`..., then exactly one `Done` or `Error`. Each
event keeps the frame it came from in `raw`. Frame types this version does not know are skipped (their `seq`
still counts): protocol v2's `reasoning` and `tool_use` frames become new event classes registered in
`PARSERS` — nothing else changes for callers that only handle the four events below.
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

    @classmethod
    def from_json(cls, value: Any) -> Usage:
        value = value if isinstance(value, dict) else {}
        return cls(value.get("inputTokens"), value.get("outputTokens"), tuple(value.get("estimated") or ()))


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


Event = Union[Start, Text, Done, Error]  # noqa: UP007 - a runtime alias that also works on Python 3.10
"""An event of an answer. Protocol v2 adds its own classes here (reasoning, tool use)."""

TERMINAL_TYPES = frozenset({"done", "error"})


def _start(frame: dict[str, Any]) -> Start:
    return Start(frame["requestId"], frame["seq"], frame.get("model"), frame.get("conversationId"), frame)


def _text(frame: dict[str, Any]) -> Text:
    return Text(frame["requestId"], frame["seq"], str(frame.get("text") or ""), frame)


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
    """A finished answer: its whole text, why it stopped, usage and timings."""

    request_id: str
    text: str
    stop_reason: str
    usage: Usage
    metrics: Metrics
    model: str | None
    conversation_id: str | None


@dataclass(frozen=True, slots=True)
class Model:
    """A model the relay may be asked for (pass `id` as `ask(model=...)`)."""

    id: str
    provider: str | None
    default: bool


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
