"""Bedrock ConverseStream: one request shape and one event shape for any model that supports Converse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers.base import ModelRequest
from lambdas.providers.bedrock_invoke import STREAM_ENDED_EARLY
from lambdas.providers.errors import UPSTREAM_FAILURES, from_exception
from lambdas.providers.events import TERMINAL, ErrorKind, Event, Start, UpstreamError
from lambdas.providers.formats.converse_events import ConverseEvents
from lambdas.providers.formats.nova import converse_messages, inference_config


def converse_arguments(model_id: str, request: ModelRequest) -> dict[str, Any]:
    """The `converse_stream` keyword arguments for a request."""
    arguments: dict[str, Any] = {
        "modelId": model_id,
        "messages": converse_messages(request),
        "inferenceConfig": inference_config(request),
    }
    if request.system:
        arguments["system"] = [{"text": request.system}]
    return arguments


class BedrockConverseProvider:
    kind = "bedrock-converse"

    def __init__(self, client: Any, model_id: str) -> None:
        self._client = client
        self.model_id = model_id

    def stream(self, request: ModelRequest) -> Iterator[Event]:
        try:
            response = self._client.converse_stream(**converse_arguments(self.model_id, request))
        except UPSTREAM_FAILURES as exc:
            yield from_exception(exc)
            return
        events = ConverseEvents()
        body = response["stream"]
        try:
            yield Start(self.model_id)
            # In-stream errors (modelStreamErrorException, throttlingException, ...) are raised by botocore
            # while iterating, as EventStreamError.
            for event in body:
                for normalized in events.decode(event):
                    yield normalized
                    if isinstance(normalized, TERMINAL):
                        return
            for normalized in events.end():
                yield normalized
                return
            yield UpstreamError(ErrorKind.UNAVAILABLE, STREAM_ENDED_EARLY)
        except UPSTREAM_FAILURES as exc:
            yield from_exception(exc)
        finally:
            # Closing the stream closes the HTTP response: Bedrock stops generating (and billing).
            body.close()
