"""Converse-shaped stream events, one key per event: `{"contentBlockDelta": {...}}`, `{"messageStop": {...}}`,
`{"metadata": {...}}`. ConverseStream yields them from botocore, and Nova's invoke chunks are the same JSON.

Deltas are `text`, `reasoningContent` (`text`, then `signature`; or `redactedContent`, bytes) and `toolUse`
(`input` fragments of the call `contentBlockStart.start.toolUse` opened, parsed at `contentBlockStop`).

Usage comes in `metadata`, AFTER `messageStop`: the `Stop` waits for it (or for the end of the stream).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from lambdas.providers import stop_reasons
from lambdas.providers.bedrock_invoke import invocation_usage
from lambdas.providers.events import Event, ReasoningDelta, ReasoningSignature, RedactedReasoning, Stop, TextDelta
from lambdas.providers.tools import ToolCalls


class ConverseEvents:
    def __init__(self) -> None:
        self._stop_reason: str | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._stopped = False
        self._cache_read: int | None = None
        self._cache_write: int | None = None
        self._tools = ToolCalls()

    def decode(self, event: dict[str, Any]) -> Iterator[Event]:
        if "contentBlockDelta" in event:
            delta = (event["contentBlockDelta"] or {}).get("delta") or {}
            if delta.get("text"):
                yield TextDelta(delta["text"])
            reasoning = delta.get("reasoningContent") or {}
            if reasoning.get("text"):
                yield ReasoningDelta(reasoning["text"])
            if reasoning.get("signature"):
                yield ReasoningSignature(reasoning["signature"])
            if reasoning.get("redactedContent"):
                yield RedactedReasoning(_base64(reasoning["redactedContent"]))
            if isinstance(delta.get("toolUse"), dict):
                index = (event["contentBlockDelta"] or {}).get("contentBlockIndex")
                self._tools.add(index, str(delta["toolUse"].get("input") or ""))
        if "contentBlockStart" in event:
            block = event["contentBlockStart"] or {}
            tool = (block.get("start") or {}).get("toolUse")
            if isinstance(tool, dict):
                index = block.get("contentBlockIndex")
                self._tools.start(index, str(tool.get("toolUseId") or ""), str(tool.get("name") or ""))
        if "contentBlockStop" in event:
            call = self._tools.finish((event["contentBlockStop"] or {}).get("contentBlockIndex"))
            if call is not None:
                yield call
        if "messageStop" in event:
            self._stop_reason = (event["messageStop"] or {}).get("stopReason") or "end_turn"
        if "metadata" in event:
            usage = (event["metadata"] or {}).get("usage") or {}
            self._input_tokens, self._output_tokens = invocation_usage(
                event, usage.get("inputTokens"), usage.get("outputTokens")
            )
            self._cache_read = usage.get("cacheReadInputTokens")
            self._cache_write = usage.get("cacheWriteInputTokens")
            if self._stop_reason is not None:
                yield self._stop()

    def end(self) -> Iterator[Event]:
        """At the end of the stream: the Stop still owed when no metadata followed messageStop."""
        if self._stop_reason is not None and not self._stopped:
            yield self._stop()

    def _stop(self) -> Stop:
        self._stopped = True
        return Stop(
            stop_reasons.normalize(self._stop_reason),
            self._input_tokens,
            self._output_tokens,
            self._cache_read,
            self._cache_write,
        )


def _base64(data: object) -> str:
    """botocore hands a blob over as bytes; a Nova invoke chunk (JSON) already holds base64 text."""
    if isinstance(data, bytes | bytearray):
        return base64.b64encode(bytes(data)).decode("ascii")
    return str(data)
