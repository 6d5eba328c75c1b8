"""Protocol v2 content of one answer as it streams: reasoning and tool calls, to the client and into history.

Reasoning text goes to the delivery engine (coalesced into `reasoning` frames like `delta` text) and is kept in
blocks with the signature that closes each; a redacted block becomes a `reasoning` frame with `redacted: true`; a
complete tool call becomes one `tool_use` frame. The blocks and calls are what the answer's turn stores.
"""

from __future__ import annotations

import json

from lambdas import protocol
from lambdas.delivery.engine import Delivery
from lambdas.providers.content import MAX_TOOL_JSON_BYTES, ReasoningBlock, ToolCall, json_size
from lambdas.providers.events import (
    ErrorKind,
    ReasoningDelta,
    ReasoningSignature,
    RedactedReasoning,
    ToolUse,
    UpstreamError,
)

V2_EVENTS = (ReasoningDelta, ReasoningSignature, RedactedReasoning, ToolUse)
TOOL_USE_TOO_LARGE = "ToolUseTooLarge"


class AnswerContent:
    """The reasoning blocks and tool calls of one answer."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery
        self._blocks: list[ReasoningBlock] = []
        self._open: list[str] = []
        self.tool_calls: list[ToolCall] = []
        self.generated_chars = 0
        """Reasoning text and tool input: generated (and billed) as much as answer text."""

    def add(self, event: ReasoningDelta | ReasoningSignature | RedactedReasoning | ToolUse) -> UpstreamError | None:
        """Relay one event; an error when it cannot be delivered (a tool call too large for one frame)."""
        if isinstance(event, ReasoningDelta):
            self._open.append(event.text)
            self.generated_chars += len(event.text)
            self._delivery.reasoning(event.text)
        elif isinstance(event, ReasoningSignature):
            self._blocks.append(ReasoningBlock("".join(self._open), event.signature))
            self._open = []
        elif isinstance(event, RedactedReasoning):
            self._close()
            self._blocks.append(ReasoningBlock(redacted=event.data))
            request_id = self._delivery.request_id
            self._delivery.frame(lambda seq: protocol.redacted_reasoning_frame(request_id, seq))
        else:
            return self._tool_use(event)
        return None

    def _tool_use(self, event: ToolUse) -> UpstreamError | None:
        self._close()
        request_id = self._delivery.request_id
        if json_size(event.input) + len(event.tool_use_id.encode()) > MAX_TOOL_JSON_BYTES:
            # Its `tool_use` frame (and its history entry) would not fit API Gateway's 32 KB frame.
            message = f"the model's call of tool {event.name!r} is too large for one frame"
            return UpstreamError(ErrorKind.MODEL_ERROR, message, TOOL_USE_TOO_LARGE)
        self.generated_chars += len(json.dumps(event.input, ensure_ascii=False))
        self.tool_calls.append(ToolCall(event.tool_use_id, event.name, event.input))
        self._delivery.frame(
            lambda seq: protocol.tool_use_frame(request_id, seq, event.tool_use_id, event.name, event.input)
        )
        return None

    def _close(self) -> None:
        """End the open reasoning block (one without a signature: OpenAI-compatible servers sign nothing)."""
        if self._open:
            self._blocks.append(ReasoningBlock("".join(self._open)))
            self._open = []

    def reasoning(self) -> tuple[ReasoningBlock, ...]:
        self._close()
        return tuple(self._blocks)
