"""OpenAI chat completions streaming (`stream: true`), as OpenAI, vLLM, Ollama and LM Studio send it.

Each SSE event's data is a `chat.completion.chunk`: `choices[0].delta.content` is text, `delta.reasoning_content`
(vLLM, DeepSeek) or `delta.reasoning` (Ollama, OpenRouter) is reasoning, `finish_reason` arrives on the last
choice chunk, and with `stream_options.include_usage` one more chunk follows with `choices: []` and `usage`.
`data: [DONE]` ends the stream. The `Stop` waits for [DONE] (or the end of the stream) so the usage is in it.
Tool calls stream as `delta.tool_calls[{index, id?, function{name?, arguments}}]`: fragments keyed by `index`,
complete (and parsed) when the choice finishes; usage may add `prompt_tokens_details.cached_tokens`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lambdas.providers import stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.events import ErrorKind, Event, ReasoningDelta, Stop, TextDelta, UpstreamError
from lambdas.providers.tools import ToolCalls, flattened, openai_messages, openai_tool_fields

DONE = "[DONE]"


def request_body(model: str, request: ModelRequest) -> dict[str, Any]:
    if not request.tools:
        request = flattened(request)
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:
        messages.extend(openai_messages(message))
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "stream": True,
        "max_tokens": request.max_tokens,
        "stream_options": {"include_usage": True},
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop_sequences:
        body["stop"] = list(request.stop_sequences)
    body.update(openai_tool_fields(request))
    return body


def error_event(payload: Any, kind: ErrorKind, fallback: str) -> UpstreamError:
    """An error from an OpenAI-style error body: `{"error": {"message", "type", "code"}}`, Ollama's
    `{"error": "text"}`, or vLLM's `{"object": "error", "message", "type"}`."""
    if not isinstance(payload, dict):
        return UpstreamError(kind, fallback)
    error = payload.get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return UpstreamError(kind, str(error.get("message") or fallback), str(code) if code else None)
    if isinstance(error, str):
        return UpstreamError(kind, error)
    message = payload.get("message") or payload.get("detail")
    code = payload.get("type") or payload.get("code")
    return UpstreamError(kind, str(message or fallback), str(code) if code else None)


class ChatCompletionChunks:
    """Decodes the data of each SSE event; one instance per answer."""

    def __init__(self) -> None:
        self._reason: str | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._cache_read: int | None = None
        self._tools = ToolCalls()
        self.done = False

    def data(self, data: str) -> Iterator[Event]:
        if data.strip() == DONE:
            self.done = True
            yield self._stop()
            return
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError(f"expected a JSON object, got {data[:80]!r}")
        if "error" in chunk:
            yield error_event(chunk, ErrorKind.MODEL_ERROR, "the model failed mid-answer")
            return
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self._input_tokens = usage.get("prompt_tokens", self._input_tokens)
            self._output_tokens = usage.get("completion_tokens", self._output_tokens)
            details = usage.get("prompt_tokens_details")
            if isinstance(details, dict):
                self._cache_read = details.get("cached_tokens", self._cache_read)
        for choice in (chunk.get("choices") or ())[:1]:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                yield ReasoningDelta(reasoning)
            if isinstance(delta.get("content"), str) and delta["content"]:
                yield TextDelta(delta["content"])
            for call in delta.get("tool_calls") or ():
                self._tool_fragment(call)
            self._reason = choice.get("finish_reason") or self._reason
            if choice.get("finish_reason"):
                yield from self._tools.finish_all()

    def _tool_fragment(self, call: Any) -> None:
        if not isinstance(call, dict):
            return
        function = call.get("function") or {}
        key = call.get("index", 0)
        self._tools.update(key, tool_use_id=str(call.get("id") or ""), name=str(function.get("name") or ""))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self._tools.add(key, arguments)

    def end(self) -> Iterator[Event]:
        """The stream closed without [DONE]: an answer that had finished still stops; any other was cut off."""
        if self._reason is not None:
            yield from self._tools.finish_all()
            yield self._stop()
        else:
            yield UpstreamError(ErrorKind.UNAVAILABLE, "the model's stream ended before the answer did")

    def _stop(self) -> Stop:
        # OpenAI reports cached prompt tokens, never cache writes: those stay unknown (None).
        return Stop(stop_reasons.normalize(self._reason), self._input_tokens, self._output_tokens, self._cache_read)
