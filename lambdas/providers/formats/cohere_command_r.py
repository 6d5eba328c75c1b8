"""Cohere Command R / R+ on Bedrock: `{"message", "chat_history", "preamble"?, "max_tokens"}` → chunks
`{"event_type": "text-generation", "text", "is_finished": false}` ... ending with
`{"event_type": "stream-end", "is_finished": true, "finish_reason", "response": {...}}`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers import stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.bedrock_invoke import invocation_usage
from lambdas.providers.events import ErrorKind, Event, Stop, TextDelta, UpstreamError

# finish_reason values that mean the model failed rather than finished (Cohere chat API reference).
_FAILURES = {"ERROR"}
_ROLES = {"user": "USER", "assistant": "CHATBOT"}


class CohereCommandR:
    def body(self, request: ModelRequest) -> dict[str, Any]:
        *history, last = request.messages
        body: dict[str, Any] = {
            "message": last.text,
            "chat_history": [{"role": _ROLES[m.role], "message": m.text} for m in history],
            "max_tokens": request.max_tokens,
        }
        if request.system:
            body["preamble"] = request.system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop_sequences:
            body["stop_sequences"] = list(request.stop_sequences)
        return body

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        kind = chunk.get("event_type")
        if kind == "text-generation" and chunk.get("text"):
            yield TextDelta(chunk["text"])
        if kind != "stream-end" and not chunk.get("is_finished"):
            return
        reason = chunk.get("finish_reason") or (chunk.get("response") or {}).get("finish_reason")
        if reason in _FAILURES:
            yield UpstreamError(ErrorKind.MODEL_ERROR, "the model stopped with an error", upstream_code=reason)
            return
        billed = ((chunk.get("response") or {}).get("meta") or {}).get("billed_units") or {}
        yield Stop(
            stop_reasons.normalize(reason),
            *invocation_usage(chunk, billed.get("input_tokens"), billed.get("output_tokens")),
        )
