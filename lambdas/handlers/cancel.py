"""`cancel`: stop one of the caller's answers; it ends with `done`, stopReason `cancelled`.

The streaming function notices within its control interval (~250 ms), closes the model's stream and sends the
terminal frame itself. Cancelling an answer that has already ended does nothing (its terminal frame was sent).

API Gateway does not order the messages of a connection, so a cancel sent right after its `sendtext` can be
handled first. Then the cancel is left pending on the answer's record and the answer, once admitted, ends as
cancelled without calling the model. If no answer takes it within `EARLY_CANCEL_WAIT_S`, the cancel is withdrawn
and answered `not_found`, as for any unknown requestId — exactly one of the two happens.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.handlers.actions import Frames, run_action
from lambdas.observability import logger
from lambdas.requests import Cancel
from lambdas.store import shared
from lambdas.store.answers import CANCEL_PENDING, STREAMING
from lambdas.store.errors import NotFoundError

EARLY_CANCEL_WAIT_S = 2.0
"""How long a cancel waits for its answer to arrive (a `sendtext` handled after it: a cold start at worst)."""


def cancel(message: Cancel, caller: str, event: dict[str, Any]) -> Frames:
    answers = shared().answers
    record = answers.get(caller, message.requestId)
    if record is None:
        if answers.cancel_before_start(caller, message.requestId, event["requestContext"]["connectionId"]):
            time.sleep(EARLY_CANCEL_WAIT_S)
            if answers.withdraw_cancel(caller, message.requestId):
                raise NotFoundError(f"no answer with requestId {message.requestId!r}")
            logger.info("cancel taken by an answer that arrived after it", extra={"requestId": message.requestId})
            return ()
        record = answers.get(caller, message.requestId)  # its answer was admitted meanwhile
        if record is None:
            raise NotFoundError(f"no answer with requestId {message.requestId!r}")
    if record.status == CANCEL_PENDING:
        return ()  # another cancel of the same answer is already waiting for it
    if record.status == STREAMING and not record.lost:
        answers.request_cancel(caller, message.requestId)
        logger.info("cancel requested", extra={"requestId": message.requestId})
    return ()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, Cancel, cancel)
