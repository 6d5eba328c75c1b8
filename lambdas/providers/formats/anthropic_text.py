"""Claude v2 / Claude Instant text completions on Bedrock: `{"prompt", "max_tokens_to_sample"}` →
chunks `{"completion", "stop_reason", "stop"}`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.protocol import StopReason
from lambdas.providers import prompts, stop_reasons
from lambdas.providers.base import ModelRequest
from lambdas.providers.bedrock_invoke import invocation_usage
from lambdas.providers.events import Event, Stop, TextDelta

HUMAN_TURN = "\n\nHuman:"


class AnthropicText:
    def __init__(self) -> None:
        self._stop_sequences: tuple[str, ...] = ()

    def body(self, request: ModelRequest) -> dict[str, Any]:
        self._stop_sequences = request.stop_sequences
        body: dict[str, Any] = {"prompt": prompts.anthropic_text(request), "max_tokens_to_sample": request.max_tokens}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.stop_sequences:
            body["stop_sequences"] = list(request.stop_sequences)
        return body

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        if chunk.get("completion"):
            yield TextDelta(chunk["completion"])
        reason = chunk.get("stop_reason")
        if reason:
            input_tokens, output_tokens = invocation_usage(chunk, None, None)
            yield Stop(self._reason(reason, chunk.get("stop")), input_tokens, output_tokens)

    def _reason(self, reason: str, stop: str | None) -> str:
        # The model ends its turn by starting the next "\n\nHuman:" turn, which the API reports as a stop
        # sequence; only a sequence the caller asked for is a stop_sequence to the client.
        if reason == "stop_sequence" and stop not in self._stop_sequences:
            return StopReason.END_TURN
        return stop_reasons.normalize(reason)
