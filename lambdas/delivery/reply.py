"""One-off frames (errors, listings) sent outside an answer's stream."""

from __future__ import annotations

from typing import Any

from lambdas import protocol
from lambdas.delivery.errors import ConnectionGoneError, PostError
from lambdas.delivery.poster import ConnectionPoster
from lambdas.delivery.retry import RetryPolicy, post_with_retry
from lambdas.observability import logger

_REPLY_POLICY = RetryPolicy(max_attempts=4)


def reply(event: dict[str, Any], frame: dict[str, Any]) -> bool:
    """Post `frame` to the connection that sent `event`; False if the client is gone or the post failed."""
    poster = ConnectionPoster.for_event(event)
    try:
        post_with_retry(poster, protocol.encode(frame), _REPLY_POLICY)
    except ConnectionGoneError:
        logger.info("client gone before the reply", extra={"frameType": frame.get("type")})
        return False
    except PostError as exc:
        logger.warning("reply not delivered", extra={"frameType": frame.get("type"), "reason": str(exc)})
        return False
    return True
