"""The shape every small action shares: validate the message, act for the caller, answer with one or more frames.

Typed failures become error frames here, once: a bad field → `bad_request`, a missing item → `not_found`,
another user's item → `forbidden`. Identity comes only from the authorizer (`caller_id`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.delivery.reply import reply
from lambdas.identity import caller_id
from lambdas.observability import logger
from lambdas.protocol import ErrorCode, error_frame
from lambdas.requests import BadRequestError, Schema, parse, parse_body
from lambdas.store.errors import ForbiddenError, NotFoundError, StoreError

Message = TypeVar("Message", bound=Schema)
Frames = Iterable[dict[str, Any]]


def run_action(
    event: dict[str, Any], schema: type[Message], act: Callable[[Message, str, dict[str, Any]], Frames]
) -> dict[str, Any]:
    """Validate the body against `schema`, call `act(message, caller, event)`, post the frames it yields in order."""
    request_id: str | None = None
    try:
        message = parse(schema, parse_body(event.get("body")))
        request_id = getattr(message, "requestId", None)
        frames = list(act(message, caller_id(event), event))
    except BadRequestError as exc:
        frames = [error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=exc.request_id, field=exc.field)]
    except NotFoundError as exc:
        frames = [error_frame(ErrorCode.NOT_FOUND, str(exc), request_id=request_id)]
    except ForbiddenError:
        frames = [error_frame(ErrorCode.FORBIDDEN, "That belongs to another user.", request_id=request_id)]
    except (StoreError, ClientError, BotoCoreError):
        logger.exception("the action failed on the table")
        message = "The relay could not do that right now; try again shortly."
        frames = [error_frame(ErrorCode.INTERNAL, message, request_id=request_id, retryable=True)]
    for frame in frames:
        if frame.get("type") == "error":
            logger.info("action refused", extra={"code": frame["code"]})
        if not reply(event, frame):
            break
    return {"statusCode": 200}
