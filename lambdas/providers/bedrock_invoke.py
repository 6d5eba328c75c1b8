"""Bedrock InvokeModelWithResponseStream: one provider, a codec per model family's native JSON format."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.providers.base import ModelRequest
from lambdas.providers.errors import from_exception
from lambdas.providers.events import TERMINAL, ErrorKind, Event, Start, UpstreamError


class InvokeCodec(Protocol):
    """A model family's request body and stream chunks. One instance per answer: it may keep state (usage)."""

    def body(self, request: ModelRequest) -> dict[str, Any]: ...

    def decode(self, chunk: dict[str, Any]) -> Iterable[Event]:
        """Events for one decoded chunk; the terminal `Stop` when the chunk ends the answer."""
        ...


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
        except (ClientError, BotoCoreError) as exc:
            yield from_exception(exc)
            return
        body = response["body"]
        try:
            yield Start(self.model_id)
            for event in body:
                chunk = event.get("chunk")
                if chunk is None:
                    continue
                for normalized in codec.decode(json.loads(chunk["bytes"])):
                    yield normalized
                    if isinstance(normalized, TERMINAL):
                        return
            yield UpstreamError(ErrorKind.UNAVAILABLE, "the model's stream ended before the answer did")
        except (ClientError, BotoCoreError) as exc:
            yield from_exception(exc)
        except ValueError as exc:
            yield UpstreamError(ErrorKind.INTERNAL, f"undecodable chunk from the model: {exc}")
        finally:
            # Closing the response is what makes Bedrock stop generating (and billing) tokens.
            body.close()
