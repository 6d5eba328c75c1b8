"""`history`: the turns of one of the caller's conversations, oldest first.

Sent as one or more `history` frames, each under the 32 KB frame limit; a turn too long for one frame is split
across entries with the same `turn` number (concatenate their `text`). The last frame has `"final": true`.
Protocol v2 content rides on a turn's entries: `toolUses`, `toolResults` and `reasoning` (its text; signatures stay
with the relay) on its first entry when they fit, else on entries of their own after the text's.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.delivery.engine import TEXT_BUDGET
from lambdas.delivery.split import split_text
from lambdas.handlers.actions import Frames, run_action
from lambdas.observability import logger
from lambdas.protocol import encode
from lambdas.requests import History
from lambdas.store import shared
from lambdas.store.conversations import Turn

_FRAME_BUDGET = TEXT_BUDGET - 1024  # room for the entries' other fields


def history(message: History, caller: str, event: dict[str, Any]) -> Frames:
    conversation = shared().conversations.load(message.conversationId, caller)
    entries = []
    for turn in conversation.turns:
        entries.extend(_turn_entries(turn))
    return _frames(message.conversationId, conversation.title, entries)


def _turn_entries(turn: Turn) -> list[dict[str, Any]]:
    base = turn.to_json()
    entries = [{**base, "text": piece} for piece in (split_text(turn.text, _FRAME_BUDGET) if turn.text else [""])]
    extras: dict[str, Any] = {}
    if turn.tool_uses:
        extras["toolUses"] = [call.to_json() for call in turn.tool_uses]
    if turn.tool_results:
        extras["toolResults"] = [result.to_json() for result in turn.tool_results]
    reasoning = "".join(block.text for block in turn.reasoning)
    if turn.reasoning:
        extras["reasoning"] = reasoning
    if not extras:
        return entries
    if len(encode({**entries[0], **extras})) <= _FRAME_BUDGET:
        entries[0].update(extras)
        return entries
    # Too much for one entry: each call and result on its own (each fits: admission and the relay bound them),
    # the reasoning split like text.
    empty = {**base, "text": ""}
    entries += [{**empty, "toolUses": [call]} for call in extras.get("toolUses", ())]
    entries += [{**empty, "toolResults": [result]} for result in extras.get("toolResults", ())]
    entries += [{**empty, "reasoning": piece} for piece in split_text(reasoning, _FRAME_BUDGET)] if reasoning else []
    return entries


def _frames(conversation_id: str, title: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pages: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for entry in entries:
        width = len(encode(entry))
        if batch and size + width > _FRAME_BUDGET:
            pages.append(batch)
            batch, size = [], 0
        batch.append(entry)
        size += width
    pages.append(batch)
    last = len(pages) - 1
    return [
        {"type": "history", "conversationId": conversation_id, "title": title, "turns": turns, "final": i == last}
        for i, turns in enumerate(pages)
    ]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, History, history)
