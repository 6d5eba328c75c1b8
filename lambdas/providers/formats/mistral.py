"""Mistral on Bedrock: `{"prompt": "<s>[INST] ... [/INST]", "max_tokens"}` → chunks
`{"outputs": [{"text", "stop_reason"}]}` (stop_reason null until the last chunk: `stop` | `length`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers import prompts, stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.bedrock_invoke import invocation_usage
from lambdas.providers.events import Event, Stop, TextDelta


class Mistral:
    def body(self, request: ModelRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": prompts.mistral(request), "max_tokens": request.max_tokens}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop_sequences:
            body["stop"] = list(request.stop_sequences)
        return body

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        reason = None
        for output in chunk.get("outputs") or ():
            if output.get("text"):
                yield TextDelta(output["text"])
            reason = output.get("stop_reason") or reason
        if reason:
            # Mistral's chunks carry no token counts: only Bedrock's invocation metrics have usage.
            yield Stop(stop_reasons.normalize(reason), *invocation_usage(chunk, None, None))
