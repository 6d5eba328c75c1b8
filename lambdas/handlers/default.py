"""`$default`: every message no route claims. Tells the client what was wrong; the socket stays open."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas import protocol
from lambdas.delivery.reply import reply
from lambdas.observability import logger
from lambdas.protocol import ErrorCode
from lambdas.requests import BadRequestError, echo, parse_body, valid_request_id
from lambdas.routes import ACTIONS


def error_for(body: str | None) -> dict[str, Any]:
    """The error frame answering a message that reached `$default`."""
    try:
        message = parse_body(body)
    except BadRequestError as exc:
        return protocol.error_frame(
            ErrorCode.BAD_REQUEST, f'{exc}; send a JSON object such as {{"action": "sendtext", "text": "Hello"}}'
        )
    valid = ", ".join(ACTIONS)
    if "action" not in message:
        text = f'the message has no "action"; valid actions: {valid}'
    else:
        # The action is the client's, of any size or depth: echo() shows at most ECHO_CHARS of it.
        text = f"unknown action {echo(message['action'])}; valid actions: {valid}"
    return protocol.error_frame(
        ErrorCode.UNKNOWN_ACTION,
        text,
        request_id=valid_request_id(message.get("requestId")),
        actions=list(ACTIONS),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    frame = error_for(event.get("body"))
    logger.info("message without a route", extra={"code": frame["code"]})
    reply(event, frame)
    return {"statusCode": 200}
