"""`resume`: a reconnected client picks an answer back up after the last seq it received.

While the answer still streams, its record is pointed at the new connection and the streaming function moves the
answer over within its control interval: frames after `after` (replayed from its journal), then the live rest.
Once the answer has ended, its stored frames after `after` are replayed from here. Either way the client ends with
exactly the frames of an uninterrupted answer.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.handlers.actions import Frames, run_action
from lambdas.observability import logger
from lambdas.protocol import ErrorCode, error_frame
from lambdas.requests import Resume
from lambdas.store import answers
from lambdas.store.errors import ForbiddenError, NotFoundError


def resume(message: Resume, caller: str, event: dict[str, Any]) -> Frames:
    record = answers.get(message.requestId)
    if record is None:
        raise NotFoundError(f"no answer with requestId {message.requestId!r}")
    if record.owner != caller:
        raise ForbiddenError(message.requestId)
    connection_id = event["requestContext"]["connectionId"]
    if record.status == answers.STREAMING and not record.lost:
        if answers.request_resume(message.requestId, connection_id, message.after):
            logger.info("resume handed to the streaming answer", extra={"requestId": message.requestId})
            return ()
        record = answers.get(message.requestId) or record  # it ended meanwhile: replay what was stored
    if record.lost:
        return (error_frame(ErrorCode.INTERNAL, "The answer was lost; ask again.", request_id=message.requestId),)
    frames = [frame for frame in answers.transcript(record) if frame["seq"] > message.after]
    logger.info("resume replayed from storage", extra={"requestId": message.requestId, "frames": len(frames)})
    return frames


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, Resume, resume)
