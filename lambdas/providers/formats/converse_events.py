"""Converse-shaped stream events, one key per event: `{"contentBlockDelta": {...}}`, `{"messageStop": {...}}`,
`{"metadata": {...}}`. ConverseStream yields them from botocore, and Nova's invoke chunks are the same JSON.

Usage comes in `metadata`, AFTER `messageStop`: the `Stop` waits for it (or for the end of the stream).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lambdas.providers import stop_reasons
from lambdas.providers.bedrock_invoke import invocation_usage
from lambdas.providers.events import Event, ReasoningDelta, Stop, TextDelta


class ConverseEvents:
    def __init__(self) -> None:
        self._stop_reason: str | None = None
        self._input_tokens: int | None = None
        self._output_tokens: int | None = None
        self._stopped = False

    def decode(self, event: dict[str, Any]) -> Iterator[Event]:
        if "contentBlockDelta" in event:
            delta = (event["contentBlockDelta"] or {}).get("delta") or {}
            if delta.get("text"):
                yield TextDelta(delta["text"])
            reasoning = delta.get("reasoningContent") or {}
            if reasoning.get("text"):
                yield ReasoningDelta(reasoning["text"])
            # toolUse deltas need tool definitions in the request, which the relay never sends.
        if "messageStop" in event:
            self._stop_reason = (event["messageStop"] or {}).get("stopReason") or "end_turn"
        if "metadata" in event:
            usage = (event["metadata"] or {}).get("usage") or {}
            self._input_tokens, self._output_tokens = invocation_usage(
                event, usage.get("inputTokens"), usage.get("outputTokens")
            )
            if self._stop_reason is not None:
                yield self._stop()

    def end(self) -> Iterator[Event]:
        """At the end of the stream: the Stop still owed when no metadata followed messageStop."""
        if self._stop_reason is not None and not self._stopped:
            yield self._stop()

    def _stop(self) -> Stop:
        self._stopped = True
        return Stop(stop_reasons.normalize(self._stop_reason), self._input_tokens, self._output_tokens)
