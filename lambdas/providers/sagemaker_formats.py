"""The stream formats of SageMaker LLM containers, one decoder per `format` option.

Each decoder takes the endpoint's text lines (already reassembled from PayloadParts by `streams.LineBuffer`) and
yields normalized events; `end()` yields the `Stop` once the stream is over, with whatever usage the format gave.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from lambdas import catalogue
from lambdas.providers import stop_reasons
from lambdas.providers.events import ErrorKind, Event, Stop, TextDelta, UpstreamError
from lambdas.providers.streams import SseDecoder


class LineDecoder(Protocol):
    def line(self, text: str) -> Iterator[Event]: ...

    def end(self) -> Iterator[Event]: ...


def _error_event(record: dict[str, Any]) -> UpstreamError:
    error = record.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return UpstreamError(ErrorKind.MODEL_ERROR, str(message or "the model failed"), record.get("error_type"))


class TokenStream:
    """LMI rolling batch (`lmi`) JSON lines, and the same records as TGI sends them in SSE `data:` fields:
    `{"token": {"id", "text", "logprob", "special"}, "generated_text": null, "details": null}`; the last record
    carries `generated_text` (the whole answer, not used: the tokens already spelled it) and
    `details{finish_reason, generated_tokens, input_length (TGI)}`."""

    def __init__(self) -> None:
        self._reason: str | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None

    def line(self, text: str) -> Iterator[Event]:
        if not text.strip():
            return
        record = json.loads(text)
        if not isinstance(record, dict):
            raise ValueError(f"expected a JSON object, got {text[:80]!r}")
        if "error" in record:
            yield _error_event(record)
            return
        token = record.get("token") or {}
        # Special tokens (`<|eot_id|>`, `</s>`) are control tokens, not answer text.
        if token.get("text") and not token.get("special"):
            yield TextDelta(token["text"])
        details = record.get("details")
        if isinstance(details, dict):
            self._reason = details.get("finish_reason") or self._reason
            self._output_tokens = details.get("generated_tokens", self._output_tokens)
            self._input_tokens = details.get("prompt_tokens", details.get("input_length", self._input_tokens))

    def end(self) -> Iterator[Event]:
        yield Stop(stop_reasons.normalize(self._reason), self._input_tokens, self._output_tokens)


class OutputsStream:
    """Older LMI (`lmi-outputs`): JSON lines `{"outputs": [" text"]}`; no stop reason, no usage."""

    def line(self, text: str) -> Iterator[Event]:
        if not text.strip():
            return
        record = json.loads(text)
        if not isinstance(record, dict):
            raise ValueError(f"expected a JSON object, got {text[:80]!r}")
        if "error" in record:
            yield _error_event(record)
            return
        for output in record.get("outputs") or ():
            if isinstance(output, str) and output:
                yield TextDelta(output)

    def end(self) -> Iterator[Event]:
        yield Stop(stop_reasons.normalize(None))


class TgiEvents:
    """Hugging Face TGI (`tgi`): server-sent events whose `data:` holds a `TokenStream` record."""

    def __init__(self) -> None:
        self._sse = SseDecoder()
        self._records = TokenStream()

    def line(self, text: str) -> Iterator[Event]:
        data = self._sse.feed(text)
        if data is not None:
            yield from self._records.line(data)

    def end(self) -> Iterator[Event]:
        data = self._sse.end()
        if data is not None:
            yield from self._records.line(data)
        yield from self._records.end()


DECODERS: dict[str, Callable[[], LineDecoder]] = {
    catalogue.LMI: TokenStream,
    catalogue.LMI_OUTPUTS: OutputsStream,
    catalogue.TGI: TgiEvents,
}
