"""The one normalized event model every provider emits, whatever wire format carried the answer.

A provider stream yields `Start`, then any number of content events (`TextDelta`, `ReasoningDelta`,
`ReasoningSignature`, `RedactedReasoning`, `ToolUse`), then exactly one terminal event: `Stop` or
`UpstreamError`. Errors are events, not exceptions, so pre-stream and in-stream failures take one path through
the handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """Why the upstream failed, independent of which provider said so."""

    THROTTLED = "throttled"
    """Rate or quota limit upstream; retryable."""
    UNAVAILABLE = "unavailable"
    """Upstream down, overloaded or timed out; retryable."""
    MODEL_ERROR = "model_error"
    """The model failed mid-answer (e.g. modelStreamErrorException)."""
    VALIDATION = "validation"
    """The upstream rejected the request as invalid."""
    ACCESS_DENIED = "access_denied"
    """Not allowed to call this model (IAM, model access, API key)."""
    INTERNAL = "internal"
    """Anything else."""


@dataclass(frozen=True, slots=True)
class Start:
    model: str


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """Model reasoning ("thinking"), kept apart from the answer text; never sent as `delta` text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningSignature:
    """Ends the current reasoning block: the upstream's signature over it, which Anthropic models require back
    unchanged when a tool turn continues. Never shown to clients."""

    signature: str


@dataclass(frozen=True, slots=True)
class RedactedReasoning:
    """A reasoning block the upstream encrypted (Anthropic `redacted_thinking`, Converse `redactedContent`):
    opaque `data` (base64 text) to pass back to the model, no text for the client."""

    data: str


@dataclass(frozen=True, slots=True)
class ToolUse:
    """One complete tool call: the upstream streamed its input JSON in fragments; this is the parsed object."""

    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stop:
    reason: str
    """A normalized stop reason (`lambdas.protocol.StopReason` values)."""
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    """Prompt tokens read from the upstream's prompt cache; None when the upstream did not say."""
    cache_write_input_tokens: int | None = None
    """Prompt tokens written to the upstream's prompt cache; None when the upstream did not say."""


@dataclass(frozen=True, slots=True)
class UpstreamError:
    kind: ErrorKind
    message: str
    upstream_code: str | None = None
    """The provider's own error name (e.g. `ThrottlingException`), for logs."""

    @property
    def retryable(self) -> bool:
        return self.kind in (ErrorKind.THROTTLED, ErrorKind.UNAVAILABLE)


Event = Start | TextDelta | ReasoningDelta | ReasoningSignature | RedactedReasoning | ToolUse | Stop | UpstreamError
CONTENT = (TextDelta, ReasoningDelta, ReasoningSignature, RedactedReasoning, ToolUse)
TERMINAL = (Stop, UpstreamError)
