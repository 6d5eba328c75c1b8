"""A long `sendtext` sent as several messages (`part`, `parts`): store each part, start the answer once.

API Gateway closes any frame over 32 KB and browsers cannot fragment a message, so a client splits a long text
into `sendtext` messages that share the `requestId` and every other field, each with its slice of `text`, its
0-based `part` and the count `parts`. They may be handled in any order, at the same time, by different
functions: each part is stored (lambdas.store.uploads); the function that stores the last missing one assembles
the text, in index order, and the request goes on through admission as if it had come in one message. The others
end quietly: a part gets a frame only when it is refused.
"""

from __future__ import annotations

import hashlib
import json

import msgspec

from lambdas.config import Settings
from lambdas.requests import BadRequestError, SendText
from lambdas.store.uploads import (
    DuplicatePartError,
    PartConflictError,
    UploadExpiredError,
    Uploads,
)

_OWN_FIELDS = frozenset({"action", "text", "part"})
"""What differs between the parts of one text; every other field must be the same in all of them."""


def field_digests(request: SendText) -> dict[str, str]:
    """Each field the parts must share (absent ones included, as null), as a short digest of its value."""
    digests = {}
    for name, value in msgspec.structs.asdict(request).items():
        if name in _OWN_FIELDS:
            continue
        raw = json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8", "backslashreplace")
        digests[name] = hashlib.sha256(raw).hexdigest()[:16]
    return digests


def collect(request: SendText, user: str, uploads: Uploads, config: Settings) -> SendText | None:
    """Store one part. Returns the whole request (parts joined) to the one caller whose part completed the text,
    None to every other; raises BadRequestError (naming the field) for a part that cannot belong to the text."""
    assert request.part is not None and request.parts is not None and request.requestId is not None
    request_id = request.requestId
    try:
        uploads.add(
            user,
            request_id,
            index=request.part,
            count=request.parts,
            text=request.text,
            fields=field_digests(request),
            ttl_seconds=config.parts_ttl_seconds,
        )
    except DuplicatePartError:
        return None  # a resend of a part already stored (a reconnecting client): harmless
    except PartConflictError as exc:
        raise BadRequestError(str(exc), exc.field, request_id) from None
    except UploadExpiredError:
        message = (
            f"requestId: the upload expired (its parts must all arrive within {config.parts_ttl_seconds} s); "
            "send the whole text again with a new requestId"
        )
        raise BadRequestError(message, "requestId", request_id) from None
    if not uploads.claim(user, request_id, request.parts):
        return None
    text = uploads.text(user, request_id, request.parts)
    if len(text) > config.max_text_chars:
        message = f"text: at most {config.max_text_chars} characters in all parts (got {len(text)})"
        raise BadRequestError(message, "text", request_id)
    return msgspec.structs.replace(request, text=text, part=None, parts=None)
