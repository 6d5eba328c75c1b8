"""Bedrock InvokeModelWithResponseStream: one provider, a codec per model family's native JSON format."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from lambdas.providers.base import ModelRequest
from lambdas.providers.errors import UPSTREAM_FAILURES, from_exception
from lambdas.providers.events import Event
from lambdas.providers.upstream import guarded

INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"
"""Bedrock adds this object to every family's last chunk: `{inputTokenCount, outputTokenCount, ...}`."""


class InvokeCodec(Protocol):
    """A model family's request body and stream chunks. One instance per answer: it may keep state (usage).

    A codec may also define `end() -> Iterable[Event]`: the events owed when the stream ends without a chunk
    that finished the answer (e.g. Nova's usage arrives in a chunk after the stop reason, when it arrives).
    """

    def body(self, request: ModelRequest) -> dict[str, Any]: ...

    def decode(self, chunk: dict[str, Any]) -> Iterable[Event]:
        """Events for one decoded chunk; the terminal `Stop` when the chunk ends the answer."""
        ...


def invocation_usage(
    chunk: dict[str, Any], input_tokens: int | None, output_tokens: int | None
) -> tuple[int | None, int | None]:
    """Usage from Bedrock's invocation metrics when the chunk carries them, else the model's own counts."""
    metrics = chunk.get(INVOCATION_METRICS) or {}
    return metrics.get("inputTokenCount", input_tokens), metrics.get("outputTokenCount", output_tokens)


class BedrockInvokeProvider:
    kind = "bedrock"

    def __init__(self, client: Any, model_id: str, codec: Callable[[], InvokeCodec]) -> None:
        self._client = client
        self.model_id = model_id
        self._codec = codec

    def stream(self, request: ModelRequest) -> Iterator[Event]:
        codec = self._codec()
        try:
            response = self._client.invoke_model_with_response_stream(
                modelId=self.model_id,
                body=json.dumps(codec.body(request)),
                contentType="application/json",
                accept="application/json",
            )
        except UPSTREAM_FAILURES as exc:
            yield from_exception(exc)
            return
        body = response["body"]
        yield from guarded(self.model_id, _decoded(body, codec), body.close)


def _decoded(body: Any, codec: InvokeCodec) -> Iterator[Event]:
    for event in body:
        chunk = event.get("chunk")
        if chunk is not None:
            yield from codec.decode(json.loads(chunk["bytes"]))
    # Some families only know their usage or stop reason once the stream is over (Nova's metadata, ...).
    yield from getattr(codec, "end", tuple)()
