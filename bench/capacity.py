"""What one answer asks of DynamoDB: requests per operation, the capacity moto reports, and the request units
DynamoDB on-demand would bill, computed from the items' sizes by DynamoDB's published rules.

moto's `ConsumedCapacity` is a constant per call (1.0 for PutItem/Query/DeleteItem, 0.5 for GetItem, 2.0 per item
of TransactGetItems) and absent for UpdateItem and TransactWriteItems, so it is recorded as moto reports it and the
bill is computed here instead:

- reads: 4 KB units of the item(s) read, ×0.5 eventually consistent, ×1 strongly consistent, ×2 in a transaction;
  a Query rounds the sum of the items it read; a read that finds nothing still costs one unit (×the factor);
- writes: 1 KB units of the larger of the item before and after the write (at least 1), ×2 in a transaction; an
  item written into a global secondary index (it carries the index's partition key) costs its units again there.

Item size = the lengths of attribute names plus values (strings and binaries by their bytes, numbers by their digits
as a bound, lists and maps by their elements plus 3 bytes), as DynamoDB counts them.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lambdas import table_schema

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
TRANSACTION_FACTOR = 2.0

ItemLookup = Callable[[str, Mapping[str, Any]], "Mapping[str, Any] | None"]
"""(table name, key in wire format) → the stored item in wire format, or None: the after-image of a write."""


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value in wire format (`{"S": "..."}`, `{"M": {...}}`, ...)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = len(inner.lstrip("-").replace(".", "").strip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(base64.b64decode(inner)) if isinstance(inner, str) else len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in inner)
    if kind == "NS":
        return sum(value_size({"N": v}) for v in inner)
    if kind == "BS":
        return sum(value_size({"B": v}) for v in inner)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    factor = TRANSACTION_FACTOR if transactional else 1.0 if consistent else 0.5
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * factor


def write_units(size: int, *, transactional: bool = False, indexed: bool = False) -> float:
    units = max(1, math.ceil(size / WRITE_UNIT_BYTES))
    return units * (TRANSACTION_FACTOR if transactional else 1.0) * (2 if indexed else 1)


def _indexed(item: Mapping[str, Any] | None) -> bool:
    return bool(item) and table_schema.OWNER_INDEX_PARTITION_KEY in item  # type: ignore[operator]


@dataclass(slots=True)
class DynamoTally:
    """Requests per operation, moto's reported capacity units, and the billed request units computed here."""

    requests: Counter[str] = field(default_factory=Counter)
    reported_units: float = 0.0
    read_units: float = 0.0
    write_units: float = 0.0

    def minus(self, earlier: DynamoTally) -> DynamoTally:
        return DynamoTally(
            requests=Counter({op: n for op, n in (self.requests - earlier.requests).items() if n}),
            reported_units=self.reported_units - earlier.reported_units,
            read_units=self.read_units - earlier.read_units,
            write_units=self.write_units - earlier.write_units,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "requests_total": sum(self.requests.values()),
            "moto_reported_capacity_units": round(self.reported_units, 2),
            "read_request_units": round(self.read_units, 2),
            "write_request_units": round(self.write_units, 2),
        }


def units_of(
    operation: str, request: Mapping[str, Any], response: Mapping[str, Any], lookup: ItemLookup
) -> tuple[float, float]:
    """(read units, write units) one request costs on an on-demand table."""
    if operation == "GetItem":
        return read_units(item_size(response.get("Item")), consistent=bool(request.get("ConsistentRead"))), 0.0
    if operation == "BatchGetItem":
        total = 0.0
        for table, items in response.get("Responses", {}).items():
            consistent = bool(request.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
            total += sum(read_units(item_size(item), consistent=consistent) for item in items)
        return total, 0.0
    if operation == "TransactGetItems":
        found = response.get("Responses", [])
        asked = len(request.get("TransactItems", []))
        sizes = [item_size(entry.get("Item")) for entry in found] + [0] * (asked - len(found))
        return sum(read_units(size, consistent=True, transactional=True) for size in sizes), 0.0
    if operation in ("Query", "Scan"):
        size = sum(item_size(item) for item in response.get("Items", []))
        consistent = bool(request.get("ConsistentRead")) and "IndexName" not in request
        return read_units(size, consistent=consistent), 0.0
    if operation == "PutItem":
        item = request.get("Item", {})
        return 0.0, write_units(item_size(item), indexed=_indexed(item))
    if operation in ("UpdateItem", "DeleteItem"):
        before = response.get("Attributes") if request.get("ReturnValues") == "ALL_OLD" else None
        after = lookup(request["TableName"], request["Key"]) if operation == "UpdateItem" else None
        size = max(item_size(before), item_size(after), item_size(request.get("Key")))
        return 0.0, write_units(size, indexed=_indexed(after) or _indexed(before))
    if operation == "BatchWriteItem":
        total = 0.0
        for writes in request.get("RequestItems", {}).values():
            for write in writes:
                item = write.get("PutRequest", {}).get("Item") or write.get("DeleteRequest", {}).get("Key")
                total += write_units(item_size(item), indexed=_indexed(item))
        return 0.0, total
    if operation == "TransactWriteItems":
        total = 0.0
        for action in request.get("TransactItems", []):
            ((kind, body),) = action.items()
            if kind == "Put":
                item = body.get("Item", {})
            elif kind == "Update":
                item = lookup(body["TableName"], body["Key"]) or body["Key"]
            else:  # Delete, ConditionCheck: the key's size is the floor
                item = body.get("Key", {})
            total += write_units(item_size(item), transactional=True, indexed=_indexed(item))
        return 0.0, total
    return 0.0, 0.0


def reported_units(response: Mapping[str, Any]) -> float:
    consumed = response.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    return sum(float(entry.get("CapacityUnits", 0)) for entry in entries)


class DynamoMeter:
    """A localgw `RequestTap` observer: adds every request up. Thread-safe; `snapshot()` copies the running total."""

    def __init__(self, lookup: ItemLookup) -> None:
        self._lookup = lookup
        self._lock = threading.Lock()
        self._tally = DynamoTally()

    def __call__(self, operation: str, request_body: bytes, response_body: bytes) -> None:
        try:
            request = json.loads(request_body or b"{}")
            response = json.loads(response_body or b"{}")
        except ValueError:
            return
        if "__type" in response:  # an error (a failed condition): DynamoDB still bills a write of the item
            reads, writes = 0.0, (1.0 if operation in ("PutItem", "UpdateItem", "DeleteItem") else 0.0)
        else:
            reads, writes = units_of(operation, request, response, self._lookup)
        with self._lock:
            self._tally.requests[operation] += 1
            self._tally.reported_units += reported_units(response)
            self._tally.read_units += reads
            self._tally.write_units += writes

    def snapshot(self) -> DynamoTally:
        with self._lock:
            tally = self._tally
            return DynamoTally(Counter(tally.requests), tally.reported_units, tally.read_units, tally.write_units)


def moto_item_lookup(table: str, key: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The item as moto stores it now, in wire format (the benchmark's gateway runs moto in this process)."""
    from moto.dynamodb.models import dynamodb_backends

    for account in dynamodb_backends.values():
        for backend in account.values():
            if table in backend.tables:
                item = backend.get_item(table, dict(key))
                return item.to_json()["Attributes"] if item is not None else None
    return None
