"""Attachments in two steps: `attach` hands out an upload (an S3 presigned POST), `sendtext` names the upload.

`prepare` records the upload in the table (`ATT#{attachmentId}`: owner, file name, type, declared size, expiry) and
signs a POST that S3 accepts only with that content type and exactly that size, into the caller's own prefix of
the private bucket (`attachments/{owner digest}/{attachmentId}`). The client uploads with an ordinary multipart
POST (browser `fetch`, `curl -F`), straight to S3: the bytes never pass through API Gateway's 32 KB frames.

`load` turns the ids of a `sendtext` into what the model gets: each record must exist, be the caller's and not
have expired; the model must take the kind and format; the stored object must exist and be what was declared —
its real size and its magic bytes are checked, not the client's word.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from functools import cache
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from lambdas import clients
from lambdas.attachments.formats import MAX_BYTES, MAX_PER_REQUEST, file_type, sniff
from lambdas.attachments.keys import object_key
from lambdas.config import settings
from lambdas.providers.content import Attachment
from lambdas.store import keys
from lambdas.store.errors import StoreError
from lambdas.store.items import from_item, to_item
from lambdas.store.table import Table, Write
from lambdas.table_schema import TTL_ATTRIBUTE

UPLOAD_EXPIRES_S: Final = 300
"""How long a presigned POST is valid: long enough to start an upload of a few MB."""


class AttachmentError(Exception):
    """An attachment the request cannot use; `code` is the error frame's."""

    code = "bad_request"
    field: str | None = "attachments"


class AttachmentNotFoundError(AttachmentError):
    """No such upload, or it expired (record or object gone)."""

    code = "not_found"


class AttachmentForbiddenError(AttachmentError):
    """The upload is another user's."""

    code = "forbidden"
    field = None


def new_attachment_id() -> str:
    return "a" + secrets.token_urlsafe(16)


class Attachments:
    """Uploads into one bucket, recorded in one table."""

    def __init__(
        self,
        s3: Any,
        dynamodb: Any,
        table_name: str,
        bucket: str,
        *,
        ttl_days: int,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_attachment_id,
    ) -> None:
        self._s3 = s3
        self._table = Table(dynamodb, table_name)
        self._bucket = bucket
        self._ttl_s = ttl_days * 86400
        self._clock = clock
        self._new_id = new_id

    def prepare(self, owner: str, file_name: str, content_type: str, size: int) -> dict[str, Any]:
        """The `upload` frame for one file, its record written; AttachmentError for a type or size refused."""
        kind = file_type(content_type)
        if kind is None:
            raise _refused(f"contentType: {content_type[:100]!r} cannot be attached", "contentType")
        if size > MAX_BYTES[kind.kind]:
            raise _refused(f"size: a {kind.kind} may be at most {MAX_BYTES[kind.kind]} bytes (got {size})", "size")
        attachment_id = self._new_id()
        now = self._clock()
        key = object_key(owner, attachment_id)
        record = {
            **keys.attachment(attachment_id),
            **to_item(
                {
                    "owner": owner,
                    "fileName": file_name,
                    "contentType": kind.content_type,
                    "kind": kind.kind,
                    "format": kind.format,
                    "size": size,
                    "objectKey": key,
                    "expiresAt": int(now + self._ttl_s),
                    TTL_ATTRIBUTE: int(now + self._ttl_s),
                }
            ),
        }
        self._table.write(
            Write(
                "attachment",
                "Put",
                {"Item": record, "ConditionExpression": "attribute_not_exists(pk)"},
            )
        )
        try:
            post = self._s3.generate_presigned_post(
                Bucket=self._bucket,
                Key=key,
                Fields={"Content-Type": kind.content_type},
                Conditions=[{"Content-Type": kind.content_type}, ["content-length-range", size, size]],
                ExpiresIn=UPLOAD_EXPIRES_S,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"signing the upload failed: {type(exc).__name__}") from exc
        return {
            "type": "upload",
            "attachmentId": attachment_id,
            "url": post["url"],
            "fields": post["fields"],
            "expiresIn": UPLOAD_EXPIRES_S,
        }

    def load(
        self,
        owner: str,
        ids: Sequence[str],
        accepted: Callable[[str], frozenset[str]],
        pool: Executor,
    ) -> tuple[Attachment, ...]:
        """The attachments `ids` name, in order, bytes read and checked. `accepted(kind)` is the set of formats of
        that kind the model takes. Raises AttachmentError (not_found, forbidden, bad_request)."""
        records = self._records(owner, ids)
        counts = {kind: sum(record["kind"] == kind for record in records) for kind in MAX_PER_REQUEST}
        for kind, count in counts.items():
            if count > MAX_PER_REQUEST[kind]:
                raise _refused(f"attachments: at most {MAX_PER_REQUEST[kind]} {kind}s per request (got {count})")
        for record in records:
            if record["format"] not in accepted(record["kind"]):
                taken = ", ".join(sorted(accepted(record["kind"]))) or "none"
                raise _refused(
                    f"attachments: this model does not take {record['format']} {record['kind']}s "
                    f"({record['kind']} formats it takes: {taken})"
                )
        return tuple(pool.map(self._read, records))

    def reload(self, owner: str, earlier: Iterable[Attachment], pool: Executor) -> dict[str, Attachment]:
        """Earlier turns' attachments whose objects still live, by id; any other is left out without a word."""
        wanted = [attachment.attachment_id for attachment in earlier if attachment.attachment_id]
        if not wanted:
            return {}
        try:
            records = self._records(owner, wanted, missing_ok=True)
        except AttachmentError:
            return {}

        def read(record: dict[str, Any]) -> Attachment | None:
            try:
                return self._read(record)
            except AttachmentError:
                return None

        return {found.attachment_id: found for found in pool.map(read, records) if found is not None}

    def _records(self, owner: str, ids: Sequence[str], *, missing_ok: bool = False) -> list[dict[str, Any]]:
        found = self._table.batch_get([keys.attachment(i) for i in ids], doing="reading attachments")
        now = self._clock()
        records = []
        for attachment_id in ids:
            item = found.get(keys.identity(keys.attachment(attachment_id)))
            record = from_item(item) if item else None
            if record is None or record.get("expiresAt", 0) <= now:
                if missing_ok:
                    continue
                raise AttachmentNotFoundError(f"attachment {attachment_id!r} does not exist or has expired")
            if record["owner"] != owner:
                if missing_ok:
                    continue
                raise AttachmentForbiddenError(f"attachment {attachment_id!r} belongs to another user")
            records.append({**record, "attachmentId": attachment_id})
        return records

    def _read(self, record: dict[str, Any]) -> Attachment:
        attachment_id, kind, declared = record["attachmentId"], record["kind"], record["format"]
        limit = MAX_BYTES[kind]
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=record["objectKey"])
            data = response["Body"].read(limit + 1)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                message = f"attachment {attachment_id!r} was never uploaded, or has expired"
                raise AttachmentNotFoundError(message) from None
            raise StoreError(f"reading an attachment failed: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"reading an attachment failed: {type(exc).__name__}") from exc
        if len(data) > limit:
            raise _refused(f"attachments: {attachment_id!r} is over the {limit}-byte limit for {kind}s")
        if len(data) != record["size"]:
            raise _refused(f"attachments: {attachment_id!r} is {len(data)} bytes, not the {record['size']} declared")
        if not sniff(data, declared):
            raise _refused(f"attachments: {attachment_id!r} is not a {declared} file (its content says otherwise)")
        return Attachment(kind, declared, record["fileName"], data, attachment_id)


def _refused(message: str, field: str = "attachments") -> AttachmentError:
    error = AttachmentError(message)
    error.field = field
    return error


@cache
def shared() -> Attachments:
    """This execution environment's attachments (bucket, table and lifetime from the settings)."""
    config = settings()
    return Attachments(
        clients.s3(),
        clients.dynamodb(),
        config.table_name,
        config.attachments_bucket,
        ttl_days=config.attachment_ttl_days,
    )
