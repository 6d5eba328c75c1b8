"""One-off frames (errors, listings) sent outside an answer's stream."""

from __future__ import annotations

from typing import Any

from lambdas import protocol
from lambdas.delivery.errors import ConnectionGoneError, PostError
from lambdas.delivery.poster import ConnectionPoster
from lambdas.delivery.retry import RetryPolicy, post_with_retry
from lambdas.observability import logger

_REPLY_POLICY = RetryPolicy(max_attempts=4)
_TOO_LARGE = "The relay's reply was too large to send."


def reply(event: dict[str, Any], frame: dict[str, Any]) -> bool:
    """Post `frame` to the connection that sent `event`; False if the client is gone or the post failed.

    No frame over MAX_FRAME_BYTES leaves here: API Gateway would close the socket (1009) or refuse the post.
    One that is (a bug: builders keep their frames small) is logged and replaced by a short `internal` error."""
    poster = ConnectionPoster.for_event(event)
    data = protocol.encode(frame)
    if len(data) > protocol.MAX_FRAME_BYTES:
        logger.error("reply over the frame quota", extra={"frameType": frame.get("type"), "bytes": len(data)})
        request_id = frame.get("requestId")
        frame = protocol.error_frame(
            protocol.ErrorCode.INTERNAL, _TOO_LARGE, request_id=request_id if isinstance(request_id, str) else None
        )
        data = protocol.encode(frame)
    try:
        post_with_retry(poster, data, _REPLY_POLICY)
    except ConnectionGoneError:
        logger.info("client gone before the reply", extra={"frameType": frame.get("type")})
        return False
    except PostError as exc:
        logger.warning("reply not delivered", extra={"frameType": frame.get("type"), "reason": str(exc)})
        return False
    return True
