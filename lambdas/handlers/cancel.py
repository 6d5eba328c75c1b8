"""`cancel`: stop one of the caller's answers in flight; it ends with `done`, stopReason `cancelled`.

The streaming function notices within its control interval (~250 ms), closes the model's stream and sends the
terminal frame itself. Cancelling an answer that has already ended does nothing (its terminal frame was sent).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.handlers.actions import Frames, run_action
from lambdas.observability import logger
from lambdas.requests import Cancel
from lambdas.store import answers
from lambdas.store.errors import ForbiddenError, NotFoundError


def cancel(message: Cancel, caller: str, event: dict[str, Any]) -> Frames:
    record = answers.get(message.requestId)
    if record is None:
        raise NotFoundError(f"no answer with requestId {message.requestId!r}")
    if record.owner != caller:
        raise ForbiddenError(message.requestId)
    if record.status == answers.STREAMING and not record.lost:
        answers.request_cancel(message.requestId)
        logger.info("cancel requested", extra={"requestId": message.requestId})
    return ()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, Cancel, cancel)
