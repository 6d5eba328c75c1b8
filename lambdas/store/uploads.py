"""Texts sent in parts: each part stored as it arrives, the upload assembled exactly once.

API Gateway invokes a Lambda per message, in any order and concurrently, so the parts of one text meet only here.
Each part is one transaction of two writes: the part's own item (refused if that index already arrived) and the
upload's header (`USER#{owner}` / `UPLOAD#{requestId}`: the part count, a fingerprint of the request's other
fields, the count of parts received, an expiry), refused when the part does not belong to the upload as started.
Whichever function then finds every part there claims the upload with one conditional update (`collecting` →
`assembled`): exactly one claim can succeed, so exactly one function starts the answer.

Items live in their owner's partition: another user's parts can never join, read or spoil an upload. They expire
with DynamoDB's TTL; since TTL deletes late (up to days on AWS), the header's own `expiresAt` is what refuses a
late part.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from lambdas.store import keys
from lambdas.store.errors import ConflictError, StoreError
from lambdas.store.items import from_item, to_item
from lambdas.store.table import Table, Write
from lambdas.table_schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

COLLECTING = "collecting"
ASSEMBLED = "assembled"
CONFLICT_ATTEMPTS = 8
"""Tries of a part's transaction while concurrent parts hold the header (TransactionConflict)."""
TTL_MARGIN_S = 600
"""Items outlive their upload's expiry by this much, so a late part still finds the header that says it expired."""


class UploadError(StoreError):
    """A part that cannot join its upload."""


class DuplicatePartError(UploadError):
    """This index already arrived with this very text (a resend): nothing to do."""


class PartConflictError(UploadError):
    """The part contradicts the upload as started; `field` names what differs."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class UploadExpiredError(UploadError):
    """The upload's time ran out before its last part arrived."""


class Uploads:
    """The uploads of one table."""

    def __init__(
        self,
        client: object,
        table_name: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = Table(client, table_name)
        self._clock = clock
        self._sleep = sleep

    def add(
        self,
        owner: str,
        request_id: str,
        *,
        index: int,
        count: int,
        text: str,
        fields: Mapping[str, str],
        ttl_seconds: int,
    ) -> None:
        """Store part `index` of `count`. `fields` maps each other field of the request to a digest of its value:
        every part must carry the same. Raises DuplicatePartError, PartConflictError or UploadExpiredError."""
        now = self._clock()
        fingerprint = _fingerprint(fields)
        ttl = int(now + ttl_seconds + TTL_MARGIN_S)
        part = Write(
            "part",
            "Put",
            {
                "Item": {**keys.upload_part(owner, request_id, index), **to_item({"text": text, TTL_ATTRIBUTE: ttl})},
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        )
        header = Write(
            "header",
            "Update",
            {
                "Key": keys.upload(owner, request_id),
                "UpdateExpression": (
                    "SET #parts = if_not_exists(#parts, :count), fingerprint = if_not_exists(fingerprint, :fp), "
                    "#fields = if_not_exists(#fields, :fields), expiresAt = if_not_exists(expiresAt, :expires), "
                    "#status = if_not_exists(#status, :collecting), #ttl = if_not_exists(#ttl, :ttl) "
                    "ADD received :one"
                ),
                "ConditionExpression": (
                    "attribute_not_exists(#pk) OR "
                    "(#parts = :count AND fingerprint = :fp AND expiresAt > :now AND #status = :collecting)"
                ),
                "ExpressionAttributeNames": {
                    "#pk": PARTITION_KEY,
                    "#parts": "parts",
                    "#fields": "fields",
                    "#status": "status",
                    "#ttl": TTL_ATTRIBUTE,
                },
                "ExpressionAttributeValues": to_item(
                    {
                        ":count": count,
                        ":fp": fingerprint,
                        ":fields": dict(fields),
                        ":expires": int(now + ttl_seconds),
                        ":now": int(now),
                        ":collecting": COLLECTING,
                        ":ttl": ttl,
                        ":one": 1,
                    }
                ),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
        )
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self._table.transact([part, header])
                return
            except ConflictError as exc:
                # A refusal without the item is a TransactionConflict: another part's transaction held the header
                # at that moment (concurrent parts on AWS). Try again; a condition's refusal is final.
                if any(item is None for item in exc.refused.values()) and attempt + 1 < CONFLICT_ATTEMPTS:
                    self._sleep(random.uniform(0, 0.02 * (attempt + 1)))
                    continue
                raise _why(exc.refused, index=index, count=count, text=text, fields=fields, now=now) from None

    def claim(self, owner: str, request_id: str, count: int) -> bool:
        """Whether this caller gets to assemble the upload: true for exactly one caller, once all parts are in."""
        try:
            self._table.write(
                Write(
                    "claim",
                    "Update",
                    {
                        "Key": keys.upload(owner, request_id),
                        "UpdateExpression": "SET #status = :assembled",
                        "ConditionExpression": "received = :count AND #status = :collecting",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": to_item(
                            {":assembled": ASSEMBLED, ":collecting": COLLECTING, ":count": count}
                        ),
                    },
                )
            )
        except ConflictError:
            return False
        return True

    def text(self, owner: str, request_id: str, count: int) -> str:
        """The parts of a claimed upload joined in index order (one query)."""
        items = self._table.query_all(
            doing="reading the parts of a text",
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :prefix)",
            ExpressionAttributeNames={"#pk": PARTITION_KEY, "#sk": SORT_KEY},
            ExpressionAttributeValues={
                ":pk": {"S": keys.user_partition(owner)},
                ":prefix": {"S": keys.upload_parts_prefix(request_id)},
            },
            ConsistentRead=True,
        )
        if len(items) != count:
            raise StoreError(f"an assembled upload has {len(items)} of its {count} parts")
        return "".join(str(item["text"]["S"]) for item in sorted(items, key=keys.sk_of))


def _fingerprint(fields: Mapping[str, str]) -> str:
    return "|".join(f"{name}={fields[name]}" for name in sorted(fields))


def _why(
    refused: Mapping[str, dict[str, Any] | None],
    *,
    index: int,
    count: int,
    text: str,
    fields: Mapping[str, str],
    now: float,
) -> UploadError:
    """Why a part was refused, from the items as they were when DynamoDB refused it."""
    header = from_item(refused["header"]) if refused.get("header") else None
    if header is not None and header.get("status") == COLLECTING and header.get("expiresAt", 0) <= now:
        return UploadExpiredError("the upload expired before all its parts arrived; send the text again")
    old_part = refused.get("part")
    if "part" in refused:
        if old_part is None:
            return UploadError(f"part {index}: busy; send it again")
        if from_item(old_part).get("text") == text:
            return DuplicatePartError(f"part {index} arrived again")
        return PartConflictError(f"part: part {index} was already received with another text", "part")
    if header is None:
        return UploadError("the upload changed while this part was stored")
    if header.get("parts") != count:
        return PartConflictError(f"parts: the upload was started with {header.get('parts')} parts", "parts")
    started = header.get("fields") or {}
    for name in sorted(set(started) | set(fields)):
        if started.get(name) != fields.get(name):
            return PartConflictError(f"{name}: differs from the upload's other parts", name)
    return UploadError("the upload changed while this part was stored")
