"""Every key of the relay's single table, built in one place.

| item | pk | sk |
|---|---|---|
| connection | `CONN#{connectionId}` | `META` |
| answer record | `USER#{owner}` | `REQ#{requestId}`; frames too big for it: `REQ#{requestId}#FRAMES#{part:04d}` |
| in-flight leases | `USER#{userId}` | `INFLIGHT` |
| output tokens of a UTC day | `USER#{userId}` | `TOKENS#{YYYY-MM-DD}` |
| conversation | `CONV#{conversationId}` | `META`; turns: `TURN#{turn:05d}#{part:02d}` |
| text sent in parts | `USER#{owner}` | `UPLOAD#{requestId}`; each part: `UPLOAD#{requestId}#PART#{index:03d}` |
| attachment | `ATT#{attachmentId}` | `META` |

Answers live in their owner's partition: a requestId names an answer only together with its owner, so users never
share (or probe) one namespace of requestIds, and the quota items an answer's admission reads sit next to its record.
Conversations are listed through the `byOwner` index (`gsi1pk = USER#{owner}`, `gsi1sk = {updatedAt}#{id}`).
"""

from __future__ import annotations

from typing import Any

from lambdas.table_schema import PARTITION_KEY, SORT_KEY

Key = dict[str, Any]

_USER = "USER#"
_ANSWER = "REQ#"
_FRAMES = "#FRAMES#"
TURN_PREFIX = "TURN#"
META = "META"


def key(pk: str, sk: str) -> Key:
    return {PARTITION_KEY: {"S": pk}, SORT_KEY: {"S": sk}}


def pk_of(item: dict[str, Any]) -> str:
    return str(item[PARTITION_KEY]["S"])


def sk_of(item: dict[str, Any]) -> str:
    return str(item[SORT_KEY]["S"])


def identity(item_or_key: dict[str, Any]) -> tuple[str, str]:
    """An item's key as a hashable pair."""
    return pk_of(item_or_key), sk_of(item_or_key)


def connection(connection_id: str) -> Key:
    return key(f"CONN#{connection_id}", META)


def user_partition(user_id: str) -> str:
    return f"{_USER}{user_id}"


def answer(owner: str, request_id: str) -> Key:
    return key(user_partition(owner), f"{_ANSWER}{request_id}")


def answer_of(item_or_key: dict[str, Any]) -> tuple[str, str]:
    """(owner, requestId) of an answer record's key."""
    return pk_of(item_or_key).removeprefix(_USER), sk_of(item_or_key).removeprefix(_ANSWER)


def answer_frames(owner: str, request_id: str, part: int) -> Key:
    return key(user_partition(owner), f"{answer_frames_prefix(request_id)}{part:04d}")


def answer_frames_prefix(request_id: str) -> str:
    return f"{_ANSWER}{request_id}{_FRAMES}"


def inflight(user_id: str) -> Key:
    return key(user_partition(user_id), "INFLIGHT")


def daily_tokens(user_id: str, day: str) -> Key:
    """`day` is the UTC date, `YYYY-MM-DD`."""
    return key(user_partition(user_id), f"TOKENS#{day}")


def conversation_partition(conversation_id: str) -> str:
    return f"CONV#{conversation_id}"


def conversation(conversation_id: str) -> Key:
    return key(conversation_partition(conversation_id), META)


def turn(conversation_id: str, number: int, part: int) -> Key:
    return key(conversation_partition(conversation_id), f"{TURN_PREFIX}{number:05d}#{part:02d}")


def owner_listing(owner: str) -> str:
    """The conversation index's partition of one owner."""
    return user_partition(owner)


def listing_position(updated_at: str, conversation_id: str) -> str:
    return f"{updated_at}#{conversation_id}"


# Long texts sent in parts (`lambdas.store.uploads`), in their owner's partition next to the answer they become.
_UPLOAD = "UPLOAD#"
_PART = "#PART#"


def upload(owner: str, request_id: str) -> Key:
    """The upload's header: part count, the other fields' fingerprint, which parts arrived, expiry."""
    return key(user_partition(owner), f"{_UPLOAD}{request_id}")


def upload_part(owner: str, request_id: str, index: int) -> Key:
    return key(user_partition(owner), f"{upload_parts_prefix(request_id)}{index:03d}")


def upload_parts_prefix(request_id: str) -> str:
    return f"{_UPLOAD}{request_id}{_PART}"


# Attachments (`lambdas.store.attachments`): one item per upload, keyed by its id alone so that another user's id
# is found, and refused as theirs, rather than looking like no attachment at all.
def attachment(attachment_id: str) -> Key:
    return key(f"ATT#{attachment_id}", META)
