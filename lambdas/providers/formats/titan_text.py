"""Amazon Titan Text on Bedrock: `{"inputText", "textGenerationConfig": {"maxTokenCount", ...}}` → chunks
`{"outputText", "index", "totalOutputTextTokenCount", "completionReason", "inputTextTokenCount"}`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers import prompts, stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.bedrock_invoke import invocation_usage
from lambdas.providers.events import Event, Stop, TextDelta


class TitanText:
    def __init__(self) -> None:
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None

    def body(self, request: ModelRequest) -> dict[str, Any]:
        config: dict[str, Any] = {"maxTokenCount": request.max_tokens}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.stop_sequences:
            config["stopSequences"] = list(request.stop_sequences)
        return {"inputText": prompts.titan_text(request), "textGenerationConfig": config}

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        if chunk.get("outputText"):
            yield TextDelta(chunk["outputText"])
        if chunk.get("inputTextTokenCount") is not None:
            self._input_tokens = chunk["inputTextTokenCount"]
        # totalOutputTextTokenCount is a running total: the last value is the answer's count.
        if chunk.get("totalOutputTextTokenCount") is not None:
            self._output_tokens = chunk["totalOutputTextTokenCount"]
        if chunk.get("completionReason"):
            yield Stop(
                stop_reasons.normalize(chunk["completionReason"]),
                *invocation_usage(chunk, self._input_tokens, self._output_tokens),
            )
