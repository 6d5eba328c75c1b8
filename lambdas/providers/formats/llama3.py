"""Meta Llama 3 on Bedrock: `{"prompt", "max_gen_len"}` → chunks `{"generation", "prompt_token_count",
"generation_token_count", "stop_reason"}` (stop_reason null until the last chunk: `stop` | `length`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers import prompts, stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.bedrock_invoke import invocation_usage
from lambdas.providers.events import Event, Stop, TextDelta


class Llama3:
    def __init__(self) -> None:
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None

    def body(self, request: ModelRequest) -> dict[str, Any]:
        # Llama on Bedrock has no stop-sequence parameter: the caller's stop sequences cannot be honoured.
        body: dict[str, Any] = {"prompt": prompts.llama3(request), "max_gen_len": request.max_tokens}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return body

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        if chunk.get("generation"):
            yield TextDelta(chunk["generation"])
        # prompt_token_count comes once (null afterwards); generation_token_count is cumulative: keep the last.
        if chunk.get("prompt_token_count") is not None:
            self._input_tokens = chunk["prompt_token_count"]
        if chunk.get("generation_token_count") is not None:
            self._output_tokens = chunk["generation_token_count"]
        if chunk.get("stop_reason"):
            yield Stop(
                stop_reasons.normalize(chunk["stop_reason"]),
                *invocation_usage(chunk, self._input_tokens, self._output_tokens),
            )
