"""Answer records: who asked, where the frames go, cancel and resume requests, and the frames once it ended.

A record (`USER#{owner}` / `REQ#{requestId}`) is created by its answer's admission, in the same transaction as the
conversation's turn and the in-flight lease. While the answer streams, the record is its control channel: `cancel`
and `resume` write to it, the streaming function reads it every ~250 ms (`poll`, one batched read for all the
answers a process streams). When the answer ends, its frames are stored in it (or, past one item's size, in
`FRAMES#` items next to it) and its status moves on in one update that returns the record as it was, so a resume
that arrived in the very last moment is still seen and served.

A `cancel` that arrives before its answer exists (API Gateway does not order the messages of a connection) leaves a
`cancel_pending` record: the admission that finds it ends the answer as cancelled without calling the model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from lambdas.store import keys
from lambdas.store.errors import ConflictError
from lambdas.store.items import MAX_PART_BYTES, from_item, to_item
from lambdas.store.table import ExpiringItems, Write
from lambdas.table_schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

STREAMING = "streaming"
ENDED = "ended"
CANCEL_PENDING = "cancel_pending"
"""A cancel came first: the answer has not been admitted yet, and will end as cancelled when it is."""
CANCEL_PENDING_TTL_S = 600
"""Expiry of a pending cancel nobody withdrew (its cancel handler failed): a cleanup, not a timing."""

AnswerKey = tuple[str, str]
"""(owner, requestId): a requestId names an answer only together with its owner."""


@dataclass(frozen=True, slots=True)
class Control:
    """What other functions asked of a streaming answer."""

    cancel: bool = False
    resume_connection: str | None = None
    resume_after: int = -1
    resume_nonce: int = 0


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    owner: str
    request_id: str
    connection_id: str
    conversation_id: str
    status: str
    streaming_until: int
    """Epoch seconds after which a `streaming` answer's function must have ended (its Lambda timeout)."""
    transcript_parts: int
    """FRAMES# items holding the frames of an ended answer; 0 when they are in the record itself."""
    frames: str | None
    control: Control

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> AnswerRecord:
        values = from_item(item)
        owner, request_id = keys.answer_of(item)
        return cls(
            owner=owner,
            request_id=request_id,
            connection_id=values.get("connectionId", ""),
            conversation_id=values.get("conversationId", ""),
            status=values["status"],
            streaming_until=int(values.get("streamingUntil", 0)),
            transcript_parts=int(values.get("transcriptParts", 0)),
            frames=values.get("frames"),
            control=_control(values),
        )

    @property
    def lost(self) -> bool:
        """Still marked streaming although its function must have ended (it crashed or was killed)."""
        return self.status == STREAMING and time.time() > self.streaming_until + 5


def _control(values: dict[str, Any]) -> Control:
    return Control(
        cancel=bool(values.get("cancel", False)),
        resume_connection=values.get("resumeConnection"),
        resume_after=int(values.get("resumeAfter", -1)),
        resume_nonce=int(values.get("resumeNonce", 0)),
    )


class Answers(ExpiringItems):
    """The answer records of one table."""

    # Admission.

    def create(
        self, owner: str, request_id: str, connection_id: str, conversation_id: str, streaming_seconds: float
    ) -> Write:
        """The write creating a streaming answer's record; refused if the owner used the requestId before (or a
        cancel for it is pending: the refusal returns the record as it is)."""
        now = self._clock()
        item = {
            **keys.answer(owner, request_id),
            **to_item(
                {
                    "owner": owner,
                    "connectionId": connection_id,
                    "conversationId": conversation_id,
                    "status": STREAMING,
                    "startedAt": int(now),
                    "streamingUntil": int(now + streaming_seconds),
                    TTL_ATTRIBUTE: self._expires_at(now),
                }
            ),
        }
        return Write(
            "answer",
            "Put",
            {
                "Item": item,
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        )

    def end_cancelled(self, owner: str, request_id: str, conversation_id: str, frames: list[dict[str, Any]]) -> Write:
        """The write turning a pending cancel into the ended answer it cancelled, with its frames; refused if the
        cancel was withdrawn meanwhile."""
        return Write(
            "answer",
            "Update",
            {
                "Key": keys.answer(owner, request_id),
                "UpdateExpression": "SET #status = :ended, frames = :frames, conversationId = :conversation, "
                "#ttl = :ttl",
                "ConditionExpression": "#status = :pending",
                "ExpressionAttributeNames": {"#status": "status", "#ttl": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": to_item(
                    {
                        ":ended": ENDED,
                        ":pending": CANCEL_PENDING,
                        ":frames": _encode(frames),
                        ":conversation": conversation_id,
                        ":ttl": self._expires_at(),
                    }
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        )

    # Reading.

    def get(self, owner: str, request_id: str) -> AnswerRecord | None:
        item = self._table.get(keys.answer(owner, request_id), doing="reading the answer")
        return None if item is None else AnswerRecord.from_item(item)

    def poll(self, answers: Collection[AnswerKey]) -> dict[AnswerKey, Control]:
        """The cheap check streaming answers make: consistent reads of four small attributes, for every given answer
        in as few requests as DynamoDB allows (one per 100 answers). An answer whose record is gone reads as no
        request."""
        items = self._table.batch_get(
            (keys.answer(owner, request_id) for owner, request_id in answers),
            doing="reading cancel and resume requests",
            # The key maps each item to its answer; the rest is what Control needs, nothing more.
            projection=f"{PARTITION_KEY}, {SORT_KEY}, cancel, resumeConnection, resumeAfter, resumeNonce",
        )
        found = {keys.answer_of(item): _control(from_item(item)) for item in items.values()}
        return {answer: found.get(answer, Control()) for answer in answers}

    def transcript(self, record: AnswerRecord) -> list[dict[str, Any]]:
        """The frames of an ended answer, in seq order."""
        if record.transcript_parts == 0:
            return json.loads(record.frames) if record.frames else []
        items = self._table.query_all(
            doing="reading the answer's frames",
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :frames)",
            ExpressionAttributeNames={"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            ExpressionAttributeValues={
                ":pk": {"S": keys.user_partition(record.owner)},
                ":frames": {"S": keys.answer_frames_prefix(record.request_id)},
            },
            ConsistentRead=True,
        )
        frames: list[dict[str, Any]] = []
        for item in sorted(items, key=keys.sk_of):
            frames.extend(json.loads(item["frames"]["S"]))
        return frames

    # Cancel and resume.

    def request_cancel(self, owner: str, request_id: str) -> bool:
        """Ask a streaming answer to stop; False if it is not streaming."""
        return self._update_if_streaming(owner, request_id, "SET cancel = :yes", {":yes": {"BOOL": True}}) is not None

    def cancel_before_start(self, owner: str, request_id: str, connection_id: str) -> bool:
        """Leave a pending cancel for an answer not admitted yet; False if its record exists."""
        now = self._clock()
        item = {
            **keys.answer(owner, request_id),
            **to_item(
                {
                    "owner": owner,
                    "connectionId": connection_id,
                    "status": CANCEL_PENDING,
                    "cancel": True,
                    TTL_ATTRIBUTE: int(now + CANCEL_PENDING_TTL_S),
                }
            ),
        }
        try:
            self._table.write(
                Write(
                    "cancel",
                    "Put",
                    {
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(#pk)",
                        "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                    },
                )
            )
        except ConflictError:
            return False
        return True

    def withdraw_cancel(self, owner: str, request_id: str) -> bool:
        """Remove a pending cancel no answer took; False if an admission took it first."""
        try:
            self._table.write(
                Write(
                    "withdraw",
                    "Delete",
                    {
                        "Key": keys.answer(owner, request_id),
                        "ConditionExpression": "#status = :pending",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":pending": {"S": CANCEL_PENDING}},
                    },
                )
            )
        except ConflictError:
            return False
        return True

    def request_resume(self, owner: str, request_id: str, connection_id: str, after: int) -> str | None:
        """Ask a streaming answer to continue on `connection_id` after seq `after`. Returns the connection the
        answer was going to until now; None if it is not streaming."""
        old = self._update_if_streaming(
            owner,
            request_id,
            "SET resumeConnection = :connection, resumeAfter = :after, connectionId = :connection ADD resumeNonce :one",
            {":connection": {"S": connection_id}, ":after": {"N": str(after)}, ":one": {"N": "1"}},
        )
        return None if old is None else str(old.get("connectionId", {}).get("S", ""))

    def _update_if_streaming(
        self, owner: str, request_id: str, expression: str, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        try:
            response = self._table.write(
                Write(
                    "control",
                    "Update",
                    {
                        "Key": keys.answer(owner, request_id),
                        "UpdateExpression": expression,
                        "ConditionExpression": "#status = :streaming",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {**values, ":streaming": {"S": STREAMING}},
                        "ReturnValues": "ALL_OLD",
                    },
                )
            )
        except ConflictError:
            return None
        return response.get("Attributes", {})

    # The end.

    def end(self, owner: str, request_id: str, frames: list[dict[str, Any]]) -> Control:
        """Store the answer's frames and mark it ended; returns the control state as it was just before, so the
        caller can serve a resume that it had not seen yet. One update when the frames fit in the record."""
        parts = _parts(frames)
        ttl = {"N": str(self._expires_at())}
        inline = len(parts) == 1
        if not inline:
            for index, part in enumerate(parts):
                item = {**keys.answer_frames(owner, request_id, index), "frames": {"S": part}, TTL_ATTRIBUTE: ttl}
                self._table.write(Write("frames", "Put", {"Item": item}))
        values: dict[str, Any] = {":ended": {"S": ENDED}, ":parts": {"N": "0" if inline else str(len(parts))}}
        expression = "SET #status = :ended, transcriptParts = :parts"
        if inline:
            expression += ", frames = :frames"
            values[":frames"] = {"S": parts[0]}
        response = self._table.write(
            Write(
                "end",
                "Update",
                {
                    "Key": keys.answer(owner, request_id),
                    "UpdateExpression": expression,
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": values,
                    "ReturnValues": "ALL_OLD",
                },
            )
        )
        return _control(from_item(response.get("Attributes", {})))


def _encode(frames: list[dict[str, Any]]) -> str:
    return "[" + ",".join(json.dumps(frame, ensure_ascii=False, separators=(",", ":")) for frame in frames) + "]"


def _parts(frames: list[dict[str, Any]]) -> list[str]:
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
