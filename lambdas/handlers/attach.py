"""`attach`: an upload for one image or document (an S3 presigned POST), to name in a later `sendtext`.

`{"action": "attach", "fileName", "contentType", "size"}` → `{"type": "upload", "attachmentId", "url", "fields",
"expiresIn"}`; the client then POSTs the file to `url` as multipart form data, `fields` first (lambdas.attachments).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.attachments.service import AttachmentError, shared
from lambdas.config import settings
from lambdas.handlers.actions import Frames, run_action
from lambdas.observability import logger
from lambdas.requests import Attach, BadRequestError


def attach(message: Attach, caller: str, event: dict[str, Any]) -> Frames:
    if not settings().attachments_bucket:
        raise BadRequestError("attach: attachments are not enabled on this relay", "action")
    try:
        frame = shared().prepare(caller, message.fileName, message.contentType, message.size)
    except AttachmentError as exc:
        raise BadRequestError(str(exc), exc.field) from None
    logger.info("upload prepared", extra={"contentType": message.contentType, "size": message.size})
    return [frame]


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_action(event, Attach, attach)
