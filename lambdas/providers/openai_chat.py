"""OpenAI-compatible chat completions over HTTP (OpenAI, vLLM, Ollama, LM Studio), streamed with urllib3.

urllib3 ships with botocore, so this provider adds no dependency to the Lambda asset. The response is read with
`read1()`, which returns whatever bytes have arrived (chunked or not) instead of waiting for a full buffer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import urllib3

from lambdas.providers.api_keys import ApiKeyError
from lambdas.providers.base import ModelRequest
from lambdas.providers.errors import UPSTREAM_FAILURES, from_exception, kind_for_code
from lambdas.providers.events import Event, UpstreamError
from lambdas.providers.formats.openai_chat import ChatCompletionChunks, error_event, request_body
from lambdas.providers.streams import MAX_LINE_BYTES, LineBuffer, SseDecoder
from lambdas.providers.upstream import guarded

DEFAULT_TIMEOUT = urllib3.Timeout(connect=5.0, read=120.0)
"""Read is per socket read: reasoning models may think for a while before their first byte."""
MAX_ERROR_BODY_BYTES = 64 * 1024
READ_SIZE = 64 * 1024


@cache
def shared_pool() -> urllib3.PoolManager:
    """One connection pool per execution environment (localgw runs many invocations in one process)."""
    return urllib3.PoolManager(num_pools=8, maxsize=16, block=False, retries=False)


def _no_key() -> str | None:
    return None


class OpenAIChatProvider:
    kind = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: Callable[[], str | None] = _no_key,
        *,
        pool: urllib3.PoolManager | None = None,
        timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self._pool = pool
        self._timeout = timeout
        self._max_line_bytes = max_line_bytes

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def stream(self, request: ModelRequest) -> Iterator[Event]:
        try:
            key = self._api_key()
        except ApiKeyError as exc:
            yield exc.error
            return
        try:
            response = (self._pool or shared_pool()).request(
                "POST",
                self.url,
                body=json.dumps(request_body(self.model, request)).encode(),
                headers=self._headers(key),
                preload_content=False,
                retries=False,
                timeout=self._timeout,
            )
        except UPSTREAM_FAILURES as exc:
            yield from_exception(exc)
            return
        if response.status != 200:
            try:
                yield self._http_error(response)
            except UPSTREAM_FAILURES as exc:
                yield from_exception(exc)
            finally:
                response.close()
            return
        # Closing (not releasing) the connection is what tells the server to stop generating; a connection left
        # mid-stream could not be reused anyway.
        yield from guarded(self.model, self._decode(response), response.close)

    def _decode(self, response: Any) -> Iterator[Event]:
        lines = LineBuffer(self._max_line_bytes)
        sse = SseDecoder()
        chunks = ChatCompletionChunks()
        while data := response.read1(READ_SIZE):
            for line in lines.feed(data):
                event = sse.feed(line)
                if event is not None:
                    yield from chunks.data(event)
        for line in lines.end():
            event = sse.feed(line)
            if event is not None:
                yield from chunks.data(event)
        last = sse.end()
        if last is not None:
            yield from chunks.data(last)
        yield from chunks.end()

    def _http_error(self, response: Any) -> UpstreamError:
        status = response.status
        raw = response.read(MAX_ERROR_BODY_BYTES) or b""
        text = raw.decode("utf-8", errors="replace")
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = None
        fallback = f"HTTP {status} from {self.url}" + (f": {text[:200]}" if text.strip() and payload is None else "")
        error = error_event(payload, kind_for_code(None, status), fallback)
        return UpstreamError(error.kind, error.message, error.upstream_code or f"HTTP {status}")
