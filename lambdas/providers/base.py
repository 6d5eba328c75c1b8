"""The provider interface: a model request in, an iterator of normalized events out.

A provider's `stream()` is a generator. Closing it (`.close()`, or leaving a `with contextlib.closing(...)`)
closes the upstream HTTP response, which is what stops the model from generating (and billing) further tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from lambdas.providers.content import Attachment, ReasoningBlock, ToolCall, ToolResult, ToolSpec
from lambdas.providers.events import Event

Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    text: str
    tool_uses: tuple[ToolCall, ...] = ()
    """Assistant turns: the tools the model called (after its text)."""
    tool_results: tuple[ToolResult, ...] = ()
    """User turns: the results of the previous turn's calls (before any text)."""
    reasoning: tuple[ReasoningBlock, ...] = ()
    """Assistant turns: the model's reasoning (before its text), passed back when a tool turn continues."""
    attachments: tuple[Attachment, ...] = ()
    """User turns: images and documents that go with the text (before it), lambdas.providers.attachments."""


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """What the relay asks of any model; providers render it into their wire format."""

    messages: tuple[Message, ...]
    """Alternating user/assistant turns, ending with the user's turn."""
    max_tokens: int
    system: str | None = None
    temperature: float | None = None
    stop_sequences: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | dict[str, str] = "auto"
    """`auto`, `any`, `none`, or `{"name": ...}` (used only with `tools`)."""
    reasoning_budget: int | None = None
    """Reasoning tokens asked for; None: no reasoning asked."""


class Provider(Protocol):
    """One configured model on one upstream."""

    @property
    def kind(self) -> str:
        """Provider family, e.g. `bedrock`, `bedrock-converse`, `sagemaker`, `openai`."""
        ...

    def stream(self, request: ModelRequest) -> Iterator[Event]:
        """Yield `Start`, deltas, then exactly one `Stop` or `UpstreamError`; never raise for upstream failures."""
        ...
