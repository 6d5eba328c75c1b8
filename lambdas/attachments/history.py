"""Earlier turns' attachments for the model: the conversation keeps references (never the bytes), and while the
objects live the model sees them again in later turns, within the per-request limits (newest kept)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from lambdas.attachments.formats import MAX_PER_REQUEST
from lambdas.providers.base import Message
from lambdas.providers.content import Attachment


def reference(attachment: Attachment) -> dict[str, Any]:
    """What a conversation's turn keeps of an attachment (and the `history` action lists)."""
    return {
        "attachmentId": attachment.attachment_id,
        "kind": attachment.kind,
        "format": attachment.format,
        "name": attachment.name,
        "size": len(attachment.data),
    }


def from_reference(values: Mapping[str, Any]) -> Attachment:
    """An attachment of an earlier turn, its bytes not loaded."""
    return Attachment(
        str(values.get("kind", "")),
        str(values.get("format", "")),
        str(values.get("name", "")),
        b"",
        str(values.get("attachmentId", "")),
    )


def referenced(history: Sequence[Message]) -> list[Attachment]:
    return [attachment for message in history for attachment in message.attachments]


def resolved(
    history: Sequence[Message],
    loaded: Mapping[str, Attachment],
    current: Sequence[Attachment],
    accepted: Callable[[str], frozenset[str]],
) -> tuple[Message, ...]:
    """`history` with each reference replaced by its loaded attachment, or dropped: when its object is gone, when
    the model does not take it, or when the request's limits are reached (the newest earlier turns keep theirs)."""
    room = {kind: limit - sum(a.kind == kind for a in current) for kind, limit in MAX_PER_REQUEST.items()}
    kept: list[Message] = []
    for message in reversed(history):
        attachments = []
        for ref in message.attachments:
            found = loaded.get(ref.attachment_id)
            if found is None or found.format not in accepted(found.kind) or room.get(found.kind, 0) <= 0:
                continue
            room[found.kind] -= 1
            attachments.append(found)
        kept.append(replace(message, attachments=tuple(attachments)))
    return tuple(reversed(kept))
