"""What the HTTP channel sends, built from the relay's own frames: `chat.completion.chunk` events over SSE, or one
`chat.completion`, with usage and finish reasons in OpenAI's terms (pure functions, no I/O).

The relay loop ends every answer with a `done` or `error` frame (`lambdas.protocol`); `finish_reason` and `usage`
come from the `done` frame, and an `error` frame becomes OpenAI's error object.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.protocol import StopReason

DONE_EVENT = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"
"""An SSE comment: every SSE parser (the SDKs', EventSource) skips it; idle timeouts on the way see bytes."""
FINISH_REASONS: dict[str, str] = {
    StopReason.END_TURN: "stop",
    StopReason.STOP_SEQUENCE: "stop",
    StopReason.MAX_TOKENS: "length",
    StopReason.CONTENT_FILTERED: "content_filter",
    StopReason.TOOL_USE: "tool_calls",
    StopReason.CANCELLED: "stop",
}
"""The relay's stop reasons as OpenAI's `finish_reason`; `time_limit` is not one of them: it ends the answer with an
error event saying so (`time_limit_error`)."""


def sse(payload: dict[str, Any]) -> bytes:
    """One SSE event carrying `payload` as compact JSON (non-ASCII kept as UTF-8)."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return f"data: {data}\n\n".encode("utf-8", "replace")


class Completion:
    """The chunks and the completion of one answer: `id`, `created` and `model` shared by all of them."""

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self.id = completion_id
        self.created = created
        self.model = model

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }

    def first(self) -> dict[str, Any]:
        """The role announced on the first chunk, as OpenAI does."""
        return self.chunk({"role": "assistant", "content": ""})

    def text(self, text: str) -> dict[str, Any]:
        return self.chunk({"content": text})

    def reasoning(self, text: str) -> dict[str, Any]:
        """Reasoning as the reasoning servers (vLLM, DeepSeek) stream it: `delta.reasoning_content`."""
        return self.chunk({"reasoning_content": text})

    def tool_call(self, index: int, frame: dict[str, Any]) -> dict[str, Any]:
        """One complete call (the relay's `tool_use` frame) as one `delta.tool_calls` entry, arguments whole."""
        return self.chunk({"tool_calls": [{"index": index, **tool_call(frame)}]})

    def finish(self, done: dict[str, Any]) -> dict[str, Any]:
        return self.chunk({}, finish_reason(done))

    def usage_chunk(self, done: dict[str, Any]) -> dict[str, Any]:
        """`stream_options.include_usage`: the last chunk, with no choices."""
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage(done),
        }

    def whole(
        self, text: str, done: dict[str, Any], reasoning: str = "", calls: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """`stream: false`: the answer as one chat.completion (`calls`: the `tool_use` frames)."""
        message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None, "refusal": None}
        if calls:
            message["tool_calls"] = [tool_call(frame) for frame in calls]
        if reasoning:
            message["reasoning_content"] = reasoning
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": finish_reason(done),
                }
            ],
            "usage": usage(done),
        }


def tool_call(frame: dict[str, Any]) -> dict[str, Any]:
    """A relay `tool_use` frame as OpenAI's tool call (`arguments` is JSON text)."""
    arguments = json.dumps(frame.get("input") or {}, ensure_ascii=False, separators=(",", ":"))
    return {"id": frame["toolUseId"], "type": "function", "function": {"name": frame["name"], "arguments": arguments}}


def finish_reason(done: dict[str, Any]) -> str:
    return FINISH_REASONS.get(str(done.get("stopReason")), "stop")


def usage(done: dict[str, Any]) -> dict[str, int]:
    """OpenAI's usage from the `done` frame's. A count the model did not report is 0 for input tokens; output tokens
    are always there (the relay estimates them when the model is silent, as for the quota)."""
    counts = done.get("usage") or {}
    prompt = int(counts.get("inputTokens") or 0)
    completion = int(counts.get("outputTokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def is_time_limit(frame: dict[str, Any]) -> bool:
    return frame.get("type") == "done" and frame.get("stopReason") == StopReason.TIME_LIMIT
