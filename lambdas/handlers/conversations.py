"""`conversations`: the caller's conversations, most recently updated first, a page at a time."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.handlers.actions import Frames, run_action
from lambdas.observability import logger
from lambdas.requests import Conversations
from lambdas.store import shared


def list_conversations(message: Conversations, caller: str, event: dict[str, Any]) -> Frames:
    page, cursor = shared().conversations.list_for(caller, message.cursor, message.limit)
    return ({"type": "conversations", "conversations": page, "next": cursor},)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, Conversations, list_conversations)
