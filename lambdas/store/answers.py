"""Answers: who asked, where the frames go, cancel and resume requests, and the frames once the answer ended.

A streaming answer's record (`REQ#{requestId}` / `META`) is its control channel: `cancel` and `resume` handlers
write to it, the streaming function reads it every ~250 ms (`poll_controls`, one batched read for all the answers a
process streams). When the answer ends, its frames are stored (`FRAMES#{part}`) and the status moves on in one
conditional update that returns the record as it was, so a resume that arrived in the very last moment is still
seen and served.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas import clients
from lambdas.config import settings
from lambdas.store.errors import ConflictError, StoreError
from lambdas.store.items import MAX_PART_BYTES, from_item, key, query_all, to_item
from lambdas.table_schema import PARTITION_KEY, TTL_ATTRIBUTE

STREAMING = "streaming"
ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Control:
    """What other functions asked of a streaming answer."""

    cancel: bool = False
    resume_connection: str | None = None
    resume_after: int = -1
    resume_nonce: int = 0


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    request_id: str
    owner: str
    connection_id: str
    conversation_id: str
    status: str
    streaming_until: int
    """Epoch seconds after which a `streaming` answer's function must have ended (its Lambda timeout)."""
    transcript_parts: int
    control: Control

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> AnswerRecord:
        return cls(
            request_id=values["requestId"],
            owner=values["owner"],
            connection_id=values["connectionId"],
            conversation_id=values.get("conversationId", ""),
            status=values["status"],
            streaming_until=int(values.get("streamingUntil", 0)),
            transcript_parts=int(values.get("transcriptParts", 0)),
            control=_control(values),
        )

    @property
    def lost(self) -> bool:
        """Still marked streaming although its function must have ended (it crashed or was killed)."""
        return self.status == STREAMING and time.time() > self.streaming_until + 5


_REQUEST_PREFIX = "REQ#"


def _key(request_id: str) -> dict[str, Any]:
    return key(f"{_REQUEST_PREFIX}{request_id}", "META")


def _control(values: dict[str, Any]) -> Control:
    return Control(
        cancel=bool(values.get("cancel", False)),
        resume_connection=values.get("resumeConnection"),
        resume_after=int(values.get("resumeAfter", -1)),
        resume_nonce=int(values.get("resumeNonce", 0)),
    )


def new_record_put(
    request_id: str, owner: str, connection_id: str, conversation_id: str, streaming_seconds: float
) -> dict[str, Any]:
    """The `Put` creating a streaming answer's record; refused if the requestId was used."""
    now = time.time()
    return {
        "Put": {
            "TableName": settings().table_name,
            "Item": {
                **_key(request_id),
                **to_item(
                    {
                        "requestId": request_id,
                        "owner": owner,
                        "connectionId": connection_id,
                        "conversationId": conversation_id,
                        "status": STREAMING,
                        "startedAt": int(now),
                        "streamingUntil": int(now + streaming_seconds),
                        TTL_ATTRIBUTE: int(now + settings().answer_ttl_seconds),
                    }
                ),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def get(request_id: str) -> AnswerRecord | None:
    item = (
        clients.dynamodb()
        .get_item(TableName=settings().table_name, Key=_key(request_id), ConsistentRead=True)
        .get("Item")
    )
    return None if item is None else AnswerRecord.from_values(from_item(item))


MAX_BATCH_KEYS = 100
"""Keys per BatchGetItem: DynamoDB's limit."""
_CONTROL_READ_ATTEMPTS = 3
"""Tries for keys DynamoDB leaves unprocessed (throttling); the next poll asks for whatever is still missing."""


def poll_controls(request_ids: Collection[str]) -> dict[str, Control]:
    """The cheap check streaming answers make: consistent reads of four small attributes, for every given answer in
    as few requests as DynamoDB allows (one per 100 answers). An answer whose record is gone reads as no request;
    one DynamoDB left unprocessed even after retries is missing from the result (its caller keeps what it knew)."""
    table = settings().table_name
    dynamodb = clients.dynamodb()
    found: dict[str, Control] = {}
    wanted = list(dict.fromkeys(request_ids))
    for start in range(0, len(wanted), MAX_BATCH_KEYS):
        batch = wanted[start : start + MAX_BATCH_KEYS]
        keys: list[dict[str, Any]] = [_key(request_id) for request_id in batch]
        for attempt in range(_CONTROL_READ_ATTEMPTS):
            response = dynamodb.batch_get_item(
                RequestItems={
                    table: {
                        "Keys": keys,
                        "ConsistentRead": True,
                        # The key maps each item to its answer; the rest is what Control needs, nothing more.
                        "ProjectionExpression": f"{PARTITION_KEY}, cancel, resumeConnection, resumeAfter, resumeNonce",
                    }
                }
            )
            for item in response.get("Responses", {}).get(table, []):
                found[item[PARTITION_KEY]["S"].removeprefix(_REQUEST_PREFIX)] = _control(from_item(item))
            keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
            time.sleep(0.01 * 2**attempt)
        unprocessed = {key[PARTITION_KEY]["S"].removeprefix(_REQUEST_PREFIX) for key in keys}
        for request_id in batch:
            if request_id not in found and request_id not in unprocessed:
                found[request_id] = Control()  # no record (any more): nothing was asked
    return found


def request_cancel(request_id: str) -> bool:
    """Ask a streaming answer to stop; False if it has already ended."""
    return _update_if_streaming(request_id, "SET cancel = :yes", {":yes": {"BOOL": True}})


def request_resume(request_id: str, connection_id: str, after: int) -> bool:
    """Ask a streaming answer to continue on `connection_id` after seq `after`; False if it has already ended."""
    return _update_if_streaming(
        request_id,
        "SET resumeConnection = :connection, resumeAfter = :after, connectionId = :connection ADD resumeNonce :one",
        {":connection": {"S": connection_id}, ":after": {"N": str(after)}, ":one": {"N": "1"}},
    )


def _update_if_streaming(request_id: str, expression: str, values: dict[str, Any]) -> bool:
    try:
        clients.dynamodb().update_item(
            TableName=settings().table_name,
            Key=_key(request_id),
            UpdateExpression=expression,
            ConditionExpression="#status = :streaming",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={**values, ":streaming": {"S": STREAMING}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise StoreError(str(exc)) from exc
    except BotoCoreError as exc:
        raise StoreError(str(exc)) from exc
    return True


def end(request_id: str, frames: list[dict[str, Any]]) -> Control:
    """Store the answer's frames and mark it ended; returns the control state as it was just before, so the caller
    can serve a resume that it had not seen yet."""
    parts = _transcript_parts(frames)
    table = settings().table_name
    ttl = {"N": str(int(time.time() + settings().answer_ttl_seconds))}
    dynamodb = clients.dynamodb()
    for index, part in enumerate(parts):
        dynamodb.put_item(
            TableName=table,
            Item={**key(f"REQ#{request_id}", f"FRAMES#{index:04d}"), "frames": {"S": part}, TTL_ATTRIBUTE: ttl},
        )
    old = dynamodb.update_item(
        TableName=table,
        Key=_key(request_id),
        UpdateExpression="SET #status = :ended, transcriptParts = :parts",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":ended": {"S": ENDED}, ":parts": {"N": str(len(parts))}},
        ReturnValues="ALL_OLD",
    ).get("Attributes", {})
    return _control(from_item(old))


def transcript(record: AnswerRecord) -> list[dict[str, Any]]:
    """The frames of an ended answer, in seq order."""
    if record.transcript_parts == 0:
        return []
    items = query_all(
        clients.dynamodb(),
        TableName=settings().table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :frames)",
        ExpressionAttributeValues={":pk": {"S": f"REQ#{record.request_id}"}, ":frames": {"S": "FRAMES#"}},
        ConsistentRead=True,
    )
    frames: list[dict[str, Any]] = []
    for item in sorted(items, key=lambda item: item["sk"]["S"]):
        frames.extend(json.loads(item["frames"]["S"]))
    return frames


def _transcript_parts(frames: list[dict[str, Any]]) -> list[str]:
    """Frames as JSON arrays, each small enough for one item."""
    parts: list[str] = []
    batch: list[str] = []
    size = 2
    for frame in frames:
        encoded = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
        width = len(encoded.encode("utf-8", "replace")) + 1
        if batch and size + width > MAX_PART_BYTES:
            parts.append("[" + ",".join(batch) + "]")
            batch, size = [], 2
        batch.append(encoded)
        size += width
    parts.append("[" + ",".join(batch) + "]")
    return parts


def forget(request_id: str) -> None:
    """Undo `new_record_put` for an answer that could not start (best effort: the record's TTL covers a failure)."""
    with contextlib.suppress(ClientError, BotoCoreError):
        clients.dynamodb().delete_item(TableName=settings().table_name, Key=_key(request_id))


def conflict_from(exc: ClientError | BotoCoreError) -> StoreError:
    """A conditional write's failure as the store's own error."""
    if isinstance(exc, ClientError) and exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
        return ConflictError(str(exc))
    return StoreError(str(exc))
