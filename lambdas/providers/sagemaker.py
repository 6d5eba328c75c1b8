"""SageMaker InvokeEndpointWithResponseStream on LLM containers (DJL LMI, Hugging Face TGI).

The request is the TGI-style body both containers accept: `{"inputs": <prompt>, "parameters": {...}}` with the
prompt rendered by a chat template (Llama 3 unless the catalogue says otherwise). The answer arrives as
`PayloadPart{Bytes}` events whose boundaries ignore lines and UTF-8 sequences.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lambdas import catalogue
from lambdas.providers import prompts
from lambdas.providers.base import ModelRequest
from lambdas.providers.errors import UPSTREAM_FAILURES, from_exception
from lambdas.providers.events import Event
from lambdas.providers.sagemaker_formats import DECODERS
from lambdas.providers.streams import MAX_LINE_BYTES, LineBuffer
from lambdas.providers.upstream import guarded


def request_body(request: ModelRequest, template: str = catalogue.LLAMA3) -> dict[str, Any]:
    parameters: dict[str, Any] = {"max_new_tokens": request.max_tokens, "details": True}
    # TGI and LMI reject temperature 0 (it must be strictly positive); greedy decoding is their default anyway.
    if request.temperature:
        parameters["temperature"] = request.temperature
    if request.stop_sequences:
        parameters["stop"] = list(request.stop_sequences)
    return {"inputs": prompts.TEMPLATES[template](request), "parameters": parameters}


class SageMakerProvider:
    kind = "sagemaker"

    def __init__(
        self,
        client: Any,
        endpoint_name: str,
        stream_format: str,
        template: str = catalogue.LLAMA3,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        if stream_format not in DECODERS:
            raise ValueError(f"unknown SageMaker stream format {stream_format!r}")
        self._client = client
        self.endpoint_name = endpoint_name
        self._format = stream_format
        self._template = template
        self._max_line_bytes = max_line_bytes

    def stream(self, request: ModelRequest) -> Iterator[Event]:
        try:
            response = self._client.invoke_endpoint_with_response_stream(
                EndpointName=self.endpoint_name,
                Body=json.dumps(request_body(request, self._template)),
                ContentType="application/json",
            )
        except UPSTREAM_FAILURES as exc:
            yield from_exception(exc)
            return
        body = response["Body"]
        # ModelStreamError and InternalStreamFailure are raised by botocore while iterating; closing the response
        # stops the endpoint's generation for this request.
        yield from guarded(self.endpoint_name, self._decode(body), body.close)

    def _decode(self, body: Any) -> Iterator[Event]:
        lines = LineBuffer(self._max_line_bytes)
        decoder = DECODERS[self._format]()
        for event in body:
            part = event.get("PayloadPart")
            if part is None:
                continue
            for line in lines.feed(part.get("Bytes") or b""):
                yield from decoder.line(line)
        for line in lines.end():
            yield from decoder.line(line)
        yield from decoder.end()
