"""Protocol v2 content beyond text, in the relay's own provider-neutral shape: tools a request offers, the calls a
model made, the results a client sent back, the model's reasoning blocks, and the images and documents a user
attached (issue 15; rendered by `lambdas.providers.attachments`).

These travel in `ModelRequest` / `Message` (lambdas.providers.base) and are rendered into each wire format by
`lambdas.providers.tools`; the WebSocket frame layer never builds them, so other channels can reuse them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DEFAULT_REASONING_BUDGET = 1024
"""`reasoning: true` asks for this many reasoning tokens (Anthropic's minimum thinking budget)."""
MIN_REASONING_BUDGET = 1024
MAX_REASONING_BUDGET = 64_000
MAX_TOOL_JSON_BYTES = 28 * 1024
"""The most UTF-8 bytes a tool call's input or a tool result's content may take as JSON: it must fit one frame
(`tool_use`, or a `history` entry) with the other fields, under API Gateway's 32 KB."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: its JSON Schema (`"type": "object"`) describes the input."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made (an assistant turn's content)."""

    tool_use_id: str
    name: str
    input: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"toolUseId": self.tool_use_id, "name": self.name, "input": self.input}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolCall:
        return cls(data["toolUseId"], data["name"], data.get("input") or {})


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A client's answer to one tool call (a user turn's content). `content` is a string or any JSON value."""

    tool_use_id: str
    content: Any
    status: str = "success"
    """`success` or `error`."""

    def to_json(self) -> dict[str, Any]:
        return {"toolUseId": self.tool_use_id, "content": self.content, "status": self.status}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolResult:
        return cls(data["toolUseId"], data.get("content"), data.get("status", "success"))

    @property
    def text(self) -> str:
        """The content as text: a string as sent, any other JSON value as compact JSON. Every wire format that
        carries results as text gets exactly this, so the model sees the same thing whichever serves it."""
        return result_text(self.content)


def json_size(value: Any) -> int:
    """UTF-8 bytes of `value` as compact JSON, escapes included: what it takes inside a frame."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace"))


def result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class ReasoningBlock:
    """One block of model reasoning: its text and signature, or (redacted) the upstream's opaque data."""

    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    """Base64 of the encrypted reasoning of a redacted block; None for a readable one."""

    def to_json(self) -> dict[str, Any]:
        if self.redacted is not None:
            return {"redacted": self.redacted}
        data: dict[str, Any] = {"text": self.text}
        if self.signature is not None:
            data["signature"] = self.signature
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReasoningBlock:
        return cls(data.get("text", ""), data.get("signature"), data.get("redacted"))


@dataclass(frozen=True, slots=True)
class Attachment:
    """An image or document sent with a user's text (lambdas.attachments checked it)."""

    kind: str
    """`image` or `document`."""
    format: str
    """`png`, `jpeg`, `gif`, `webp`, `pdf`, `txt`, `md`, `csv`, `html`, `doc`, `docx`, `xls` or `xlsx`."""
    name: str
    """The file name the client gave."""
    data: bytes = b""
    """The object's bytes; empty for a reference from history not loaded (yet)."""
    attachment_id: str = ""
