"""Anthropic Messages on Bedrock (`anthropic_version: bedrock-2023-05-31`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers import stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.events import ErrorKind, Event, ReasoningDelta, Stop, TextDelta, UpstreamError

ANTHROPIC_VERSION = "bedrock-2023-05-31"


class AnthropicMessages:
    def __init__(self) -> None:
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._stop_reason: str | None = None

    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": [{"type": "text", "text": m.text}]} for m in request.messages],
        }
        if request.system:
            body["system"] = request.system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop_sequences:
            body["stop_sequences"] = list(request.stop_sequences)
        return body

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        kind = chunk.get("type")
        if kind == "content_block_delta":
            delta = chunk.get("delta", {})
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield TextDelta(delta["text"])
            elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                yield ReasoningDelta(delta["thinking"])
        elif kind == "message_start":
            usage = chunk.get("message", {}).get("usage", {})
            self._input_tokens = usage.get("input_tokens", self._input_tokens)
        elif kind == "message_delta":
            self._stop_reason = chunk.get("delta", {}).get("stop_reason") or self._stop_reason
            # output_tokens is cumulative: the last value wins, never a sum.
            self._output_tokens = chunk.get("usage", {}).get("output_tokens", self._output_tokens)
        elif kind == "message_stop":
            metrics = chunk.get("amazon-bedrock-invocationMetrics") or {}
            yield Stop(
                stop_reasons.normalize(self._stop_reason),
                metrics.get("inputTokenCount", self._input_tokens),
                metrics.get("outputTokenCount", self._output_tokens),
            )
        elif kind == "error":
            error = chunk.get("error", {})
            yield UpstreamError(ErrorKind.MODEL_ERROR, error.get("message", "model error"), error.get("type"))
