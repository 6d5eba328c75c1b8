"""Anthropic Messages on Bedrock (`anthropic_version: bedrock-2023-05-31`).

Content blocks stream by index: `text` (`text_delta`), `thinking` (`thinking_delta`, then `signature_delta`),
`redacted_thinking` (its `data` on the block start), and `tool_use` (id and name on the block start, the input
JSON in `input_json_delta` fragments, parsed at `content_block_stop`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers import stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.events import (
    ErrorKind,
    Event,
    ReasoningDelta,
    ReasoningSignature,
    RedactedReasoning,
    Stop,
    TextDelta,
    UpstreamError,
)
from lambdas.providers.tools import ToolCalls, anthropic_content, anthropic_tool_fields, flattened

ANTHROPIC_VERSION = "bedrock-2023-05-31"


class AnthropicMessages:
    def __init__(self) -> None:
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._cache_read: int | None = None
        self._cache_write: int | None = None
        self._stop_reason: str | None = None
        self._tools = ToolCalls()

    def body(self, request: ModelRequest) -> dict[str, Any]:
        if not request.tools:
            request = flattened(request)
        with_reasoning = request.reasoning_budget is not None
        body: dict[str, Any] = {
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": request.max_tokens,
            "messages": [
                {"role": m.role, "content": anthropic_content(m, with_reasoning=with_reasoning)}
                for m in request.messages
            ],
        }
        if request.system:
            body["system"] = request.system
        # Extended thinking requires the default temperature.
        if request.temperature is not None and not with_reasoning:
            body["temperature"] = request.temperature
        if request.stop_sequences:
            body["stop_sequences"] = list(request.stop_sequences)
        body.update(anthropic_tool_fields(request))
        return body

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        kind = chunk.get("type")
        if kind == "content_block_delta":
            delta = chunk.get("delta", {})
            delta_type = delta.get("type")
            if delta_type == "text_delta" and delta.get("text"):
                yield TextDelta(delta["text"])
            elif delta_type == "thinking_delta" and delta.get("thinking"):
                yield ReasoningDelta(delta["thinking"])
            elif delta_type == "signature_delta" and delta.get("signature"):
                yield ReasoningSignature(delta["signature"])
            elif delta_type == "input_json_delta":
                self._tools.add(chunk.get("index"), delta.get("partial_json") or "")
        elif kind == "content_block_start":
            block = chunk.get("content_block") or {}
            if block.get("type") == "tool_use":
                self._tools.start(chunk.get("index"), str(block.get("id") or ""), str(block.get("name") or ""))
            elif block.get("type") == "redacted_thinking":
                yield RedactedReasoning(str(block.get("data") or ""))
        elif kind == "content_block_stop":
            call = self._tools.finish(chunk.get("index"))
            if call is not None:
                yield call
        elif kind == "message_start":
            usage = chunk.get("message", {}).get("usage", {})
            self._input_tokens = usage.get("input_tokens", self._input_tokens)
            self._cache_usage(usage)
        elif kind == "message_delta":
            self._stop_reason = chunk.get("delta", {}).get("stop_reason") or self._stop_reason
            # output_tokens is cumulative: the last value wins, never a sum.
            usage = chunk.get("usage", {})
            self._output_tokens = usage.get("output_tokens", self._output_tokens)
            self._cache_usage(usage)
        elif kind == "message_stop":
            metrics = chunk.get("amazon-bedrock-invocationMetrics") or {}
            yield Stop(
                stop_reasons.normalize(self._stop_reason),
                metrics.get("inputTokenCount", self._input_tokens),
                metrics.get("outputTokenCount", self._output_tokens),
                self._cache_read,
                self._cache_write,
            )
        elif kind == "error":
            error = chunk.get("error", {})
            yield UpstreamError(ErrorKind.MODEL_ERROR, error.get("message", "model error"), error.get("type"))

    def _cache_usage(self, usage: dict[str, Any]) -> None:
        self._cache_read = usage.get("cache_read_input_tokens", self._cache_read)
        self._cache_write = usage.get("cache_creation_input_tokens", self._cache_write)
