"""Amazon Nova on Bedrock invoke: a Converse-shaped body (`schemaVersion: messages-v1`) → key-wrapped Converse
events as chunks (`{"contentBlockDelta": ...}`, `{"messageStop": ...}`, `{"metadata": ...}`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers.base import ModelRequest
from lambdas.providers.events import Event
from lambdas.providers.formats.converse_events import ConverseEvents
from lambdas.providers.tools import converse_content, flattened

SCHEMA_VERSION = "messages-v1"


def converse_messages(request: ModelRequest, *, base64_bytes: bool = False) -> list[dict[str, Any]]:
    """Converse messages; `base64_bytes` for a JSON body the relay writes itself (Nova invoke), not boto3's."""
    reasoning = request.reasoning_budget is not None
    return [
        {"role": m.role, "content": converse_content(m, with_reasoning=reasoning, base64_bytes=base64_bytes)}
        for m in request.messages
    ]


def inference_config(request: ModelRequest) -> dict[str, Any]:
    """Converse's `inferenceConfig`; Nova's invoke body takes the same camelCase keys (Nova user guide,
    "Complete request schema"; early samples spelled it `max_new_tokens`)."""
    config: dict[str, Any] = {"maxTokens": request.max_tokens}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.stop_sequences:
        config["stopSequences"] = list(request.stop_sequences)
    return config


class Nova:
    def __init__(self) -> None:
        self._events = ConverseEvents()

    def body(self, request: ModelRequest) -> dict[str, Any]:
        request = flattened(request)  # Nova on invoke gets no tools from the relay: its history's calls are text
        body: dict[str, Any] = {
            "schemaVersion": SCHEMA_VERSION,
            "messages": converse_messages(request, base64_bytes=True),
            "inferenceConfig": inference_config(request),
        }
        if request.system:
            body["system"] = [{"text": request.system}]
        return body

    def decode(self, chunk: dict[str, Any]) -> Iterator[Event]:
        return self._events.decode(chunk)

    def end(self) -> Iterator[Event]:
        return self._events.end()
