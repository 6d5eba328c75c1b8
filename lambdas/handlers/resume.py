"""`resume`: a reconnected client picks one of its answers back up after the last seq it received.

While the answer still streams, its record is pointed at the new connection and the streaming function moves the
answer over within its control interval: frames after `after` (replayed from its journal), then the live rest.
The connection the answer was going to until then gets an error frame `conflict` (if it is still open): only one
connection receives an answer. Once the answer has ended, its stored frames after `after` are replayed from here.
Either way the client ends with exactly the frames of an uninterrupted answer.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas import clients, protocol
from lambdas.delivery.errors import PostError
from lambdas.delivery.poster import ConnectionPoster, connections_endpoint
from lambdas.handlers.actions import Frames, run_action
from lambdas.observability import logger
from lambdas.protocol import ErrorCode, error_frame
from lambdas.requests import Resume
from lambdas.store import shared
from lambdas.store.answers import ENDED, STREAMING
from lambdas.store.errors import NotFoundError

_MOVED = "The answer was resumed on another connection; this one receives no more of it."


def resume(message: Resume, caller: str, event: dict[str, Any]) -> Frames:
    answers = shared().answers
    record = answers.get(caller, message.requestId)
    if record is None or record.status not in (STREAMING, ENDED):
        raise NotFoundError(f"no answer with requestId {message.requestId!r}")
    connection_id = event["requestContext"]["connectionId"]
    if record.status == STREAMING and not record.lost:
        previous = answers.request_resume(caller, message.requestId, connection_id, message.after)
        if previous is not None:
            logger.info("resume handed to the streaming answer", extra={"requestId": message.requestId})
            if previous and previous != connection_id:
                _tell_moved(event, previous, message.requestId)
            return ()
        record = answers.get(caller, message.requestId) or record  # it ended meanwhile: replay what was stored
    if record.lost:
        return (error_frame(ErrorCode.INTERNAL, "The answer was lost; ask again.", request_id=message.requestId),)
    frames = [frame for frame in answers.transcript(record) if frame["seq"] > message.after]
    logger.info("resume replayed from storage", extra={"requestId": message.requestId, "frames": len(frames)})
    return frames


def _tell_moved(event: dict[str, Any], connection_id: str, request_id: str) -> None:
    """Tell the connection the answer leaves that it ends there (best effort: it is usually gone)."""
    poster = ConnectionPoster(clients.connections(connections_endpoint(event["requestContext"])), connection_id)
    with contextlib.suppress(PostError):
        poster.post(protocol.encode(error_frame(ErrorCode.CONFLICT, _MOVED, request_id=request_id)))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, Resume, resume)
