"""The table's operations as the store uses them: typed writes, transactions, snapshots, batched reads, whole
queries.

Every botocore error is translated here (`errors.translate`): nothing above the store sees a ClientError.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.store import keys
from lambdas.store.errors import ConflictError, StoreError, error_code, translate

MAX_BATCH_KEYS = 100
"""Keys per BatchGetItem: DynamoDB's limit."""
MAX_TRANSACTION_WRITES = 100
"""Items per TransactWriteItems or TransactGetItems: DynamoDB's limit (and no two writes on one item)."""
_UNPROCESSED_ATTEMPTS = 3
"""Tries for keys DynamoDB leaves unprocessed (throttling)."""
_REFUSALS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


@dataclass(frozen=True, slots=True)
class Write:
    """One write, on its own or in a transaction: `kind` is DynamoDB's (Put, Update, Delete, ConditionCheck),
    `params` its request without the table name. `name` says which write a refused transaction refused."""

    name: str
    kind: Literal["Put", "Update", "Delete", "ConditionCheck"]
    params: Mapping[str, Any] = field(default_factory=dict)


Items = dict[tuple[str, str], dict[str, Any]]
"""Items by (pk, sk)."""


class Table:
    """One DynamoDB table through one (thread-safe) boto3 client."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, key: keys.Key, *, doing: str, **options: Any) -> dict[str, Any] | None:
        """The item (a consistent read), or None."""
        try:
            response = self.client.get_item(TableName=self.name, Key=key, ConsistentRead=True, **options)
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc
        return response.get("Item")

    def batch_get(self, wanted: Iterable[keys.Key], *, doing: str, projection: str | None = None) -> Items:
        """Consistent reads of many items, as few requests as DynamoDB allows (100 keys each). A key DynamoDB
        left unprocessed even after retries raises StoreError, so a missing item always means no item."""
        unique = list({keys.identity(key): key for key in wanted}.values())
        found: Items = {}
        for start in range(0, len(unique), MAX_BATCH_KEYS):
            batch = unique[start : start + MAX_BATCH_KEYS]
            request: dict[str, Any] = {"Keys": batch, "ConsistentRead": True}
            if projection:
                request["ProjectionExpression"] = projection
            for attempt in range(_UNPROCESSED_ATTEMPTS):
                try:
                    response = self.client.batch_get_item(RequestItems={self.name: request})
                except (ClientError, BotoCoreError) as exc:
                    raise translate(exc, doing) from exc
                for item in response.get("Responses", {}).get(self.name, []):
                    found[keys.identity(item)] = item
                request["Keys"] = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
                if not request["Keys"]:
                    break
                time.sleep(0.01 * 2**attempt)
            else:
                raise StoreError(f"{doing}: {len(request['Keys'])} keys left unprocessed")
        return found

    def snapshot(self, wanted: Sequence[keys.Key], *, doing: str) -> Items:
        """Up to 100 items read as one atomic snapshot (TransactGetItems), in one request; a missing item is absent.
        A read that collides with a transaction writing the same items is tried again."""
        unique = list({keys.identity(key): key for key in wanted}.values())
        if len(unique) > MAX_TRANSACTION_WRITES:
            raise StoreError(f"{doing}: {len(unique)} items in one snapshot (at most {MAX_TRANSACTION_WRITES})")
        for attempt in range(_UNPROCESSED_ATTEMPTS):
            try:
                response = self.client.transact_get_items(
                    TransactItems=[{"Get": {"TableName": self.name, "Key": key}} for key in unique]
                )
            except ClientError as exc:
                if error_code(exc) == "TransactionCanceledException" and attempt + 1 < _UNPROCESSED_ATTEMPTS:
                    time.sleep(0.01 * 2**attempt)
                    continue
                raise translate(exc, doing) from exc
            except BotoCoreError as exc:
                raise translate(exc, doing) from exc
            items = (entry.get("Item") for entry in response.get("Responses", []))
            return {keys.identity(item): item for item in items if item}
        raise StoreError(f"{doing}: no snapshot")  # not reached: the last attempt returns or raises

    def query_all(self, *, doing: str, **query: Any) -> list[dict[str, Any]]:
        """Every item a Query matches: DynamoDB returns at most 1 MB a call, and long answers are several MB."""
        items: list[dict[str, Any]] = []
        while True:
            try:
                response = self.client.query(TableName=self.name, **query)
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, doing) from exc
            items.extend(response["Items"])
            if "LastEvaluatedKey" not in response:
                return items
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def query_page(self, *, doing: str, **query: Any) -> dict[str, Any]:
        try:
            return self.client.query(TableName=self.name, **query)  # type: ignore[no-any-return]
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, doing) from exc

    def write(self, write: Write) -> dict[str, Any]:
        """One write on its own; ConflictError if its condition refused it. Returns DynamoDB's response."""
        method = {
            "Put": self.client.put_item,
            "Update": self.client.update_item,
            "Delete": self.client.delete_item,
        }[write.kind]
        try:
            return method(TableName=self.name, **write.params)  # type: ignore[no-any-return]
        except (ClientError, BotoCoreError) as exc:
            error = translate(exc, write.name)
            if isinstance(error, ConflictError):
                old = exc.response.get("Item") if isinstance(exc, ClientError) else None
                raise ConflictError(str(error), {write.name: old}) from exc
            raise error from exc

    def transact(self, writes: Sequence[Write]) -> None:
        """All the writes or none. ConflictError names every write a condition (or a concurrent transaction on the
        same item) refused; any other failure is a StoreError."""
        if not writes:
            return
        if len(writes) > MAX_TRANSACTION_WRITES:
            raise StoreError(f"{len(writes)} writes in one transaction (at most {MAX_TRANSACTION_WRITES})")
        if len(writes) == 1 and writes[0].kind != "ConditionCheck":
            self.write(writes[0])
            return
        try:
            self.client.transact_write_items(
                TransactItems=[{write.kind: {"TableName": self.name, **write.params}} for write in writes]
            )
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise translate(exc, "transaction") from exc
            reasons = exc.response.get("CancellationReasons") or []
            refused = {
                write.name: reason.get("Item")
                for write, reason in zip(writes, reasons, strict=False)
                if reason.get("Code") in _REFUSALS
            }
            failed = {reason.get("Code") for reason in reasons} - _REFUSALS - {"None", None}
            if failed or not refused:
                raise StoreError(f"transaction cancelled: {sorted(map(str, failed)) or 'no reason given'}") from exc
            raise ConflictError(f"transaction refused: {sorted(refused)}", refused) from exc
        except BotoCoreError as exc:
            raise translate(exc, "transaction") from exc


class ExpiringItems:
    """One kind of item of one table, each written to expire `ttl_seconds` later (DynamoDB's TTL deletes it)."""

    def __init__(
        self, client: object, table_name: str, *, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._table = Table(client, table_name)
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def _expires_at(self, now: float | None = None) -> int:
        """The TTL attribute's value for an item written at `now` (default: the clock's now)."""
        return int((self._clock() if now is None else now) + self._ttl_seconds)
