"""Bedrock ConverseStream: one request shape and one event shape for any model that supports Converse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers.base import ModelRequest
from lambdas.providers.errors import UPSTREAM_FAILURES, from_exception
from lambdas.providers.events import Event
from lambdas.providers.formats.converse_events import ConverseEvents
from lambdas.providers.formats.nova import converse_messages, inference_config
from lambdas.providers.tools import converse_tool_arguments, converse_tools_request, reasoning_max_tokens
from lambdas.providers.upstream import guarded


def converse_arguments(model_id: str, request: ModelRequest) -> dict[str, Any]:
    """The `converse_stream` keyword arguments for a request."""
    request = converse_tools_request(request)
    config = inference_config(request)
    if request.reasoning_budget is not None:
        # Anthropic models count their reasoning inside maxTokens, and think only at the default temperature.
        config["maxTokens"] = reasoning_max_tokens(request)
        config.pop("temperature", None)
    arguments: dict[str, Any] = {
        "modelId": model_id,
        "messages": converse_messages(request),
        "inferenceConfig": config,
    }
    if request.system:
        arguments["system"] = [{"text": request.system}]
    arguments.update(converse_tool_arguments(request))
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
        body = response["stream"]
        # In-stream errors (modelStreamErrorException, throttlingException, ...) are raised by botocore while
        # iterating, as EventStreamError: guarded() turns them into the error event.
        yield from guarded(self.model_id, _decoded(body, ConverseEvents()), body.close)


def _decoded(body: Any, events: ConverseEvents) -> Iterator[Event]:
    for event in body:
        yield from events.decode(event)
    yield from events.end()
