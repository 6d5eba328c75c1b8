"""Three costs of moto's DynamoDB (moto==5.2.5, pinned in requirements.txt) that grow with the table, removed for
localgw, whose table lives as long as `make dev` runs; and DynamoDB's TTL deletion, which moto does not do.

With a few thousand items every Query took ~100 ms and every TransactWriteItems ~0.5 s, all on the one server
thread that applies requests one at a time (localgw.moto_server), so the requests queued behind them ran into the
handlers' read timeouts. What each patch replaces, with the same results:

- `Table.query` began with `Table.all_items()`, which sorts every item of the table (DynamoType comparisons), to
  then keep one partition, or for an index the items whose index hash key matches. The patched query hands moto's
  own query only those candidates (the partition's items; for an index, the items whose hash key attributes are
  equal), in the order `all_items` gives them; moto's query then checks, sorts and pages them as before.
- `DynamoDBBackend.transact_write_items` deep-copied every table it touches, whole, to restore it if the
  transaction is cancelled. The patched one copies only the items the transaction names, and on exactly the
  errors moto rolls back on, puts those items back as they were.
- TTL: DynamoDB deletes items whose `ttl` attribute (epoch seconds, a Number) is in the past, some time after it
  passes, and ignores values more than five years in the past. `sweep_expired` does that for every table with TTL
  enabled; localgw.moto_server runs it periodically on the server thread.

`apply()` patches once per process. Every patched function keeps moto's behaviour otherwise: the unit tests that use
`mock_aws()` in the same process get the same answers, sooner.
"""

from __future__ import annotations

import contextvars
import copy
import threading
import time
import types
from typing import Any

MOTO_VERSION = "5.2.5"
TTL_IGNORED_AFTER_SECONDS = 5 * 365 * 24 * 3600
"""DynamoDB does not delete items whose TTL value lies more than five years in the past."""

_applied = False
_apply_lock = threading.Lock()

# (table, items) while the patched query runs: what `all_items` returns for that table in that call.
_query_candidates: contextvars.ContextVar[tuple[Any, list[Any]] | None] = contextvars.ContextVar(
    "localgw_query_candidates", default=None
)
# True while the patched transact_write_items runs: moto's whole-table copy is skipped (see _CopyWithoutTables).
_light_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar("localgw_light_transaction", default=False)


def apply() -> None:
    """Patch moto's DynamoDB (idempotent). Refuses another moto version: these patches mirror 5.2.5's code."""
    global _applied
    with _apply_lock:
        if _applied:
            return
        import moto
        import moto.dynamodb.models as backend_module
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import Table

        if moto.__version__ != MOTO_VERSION:
            raise RuntimeError(
                f"localgw patches moto=={MOTO_VERSION}'s DynamoDB, found moto=={moto.__version__}: "
                "install the version requirements.txt pins"
            )
        _patch_query(Table)
        _patch_transactions(DynamoDBBackend, backend_module)
        _applied = True


# Query: candidates instead of the whole sorted table.


def _patch_query(table_class: Any) -> None:
    moto_all_items = table_class.all_items
    moto_query = table_class.query

    def all_items(self: Any) -> list[Any]:
        current = _query_candidates.get()
        if current is not None and current[0] is self:
            return current[1]
        return moto_all_items(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        candidates = _candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
        if candidates is None:
            return moto_query(self, hash_key, *args, **kwargs)
        token = _query_candidates.set((self, candidates))
        try:
            return moto_query(self, hash_key, *args, **kwargs)
        finally:
            _query_candidates.reset(token)

    table_class.all_items = all_items
    table_class.query = query


def _candidates(table: Any, hash_key: Any, index_name: str | None, conditions: Any) -> list[Any] | None:
    """A superset of the items moto's query keeps from `all_items()`, in `all_items()` order; None: use them all."""
    if not table.range_key_attr:
        return None  # the relay's table has a sort key; others go moto's own way
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)  # .get: `items` is a defaultdict, a lookup must not add a partition
        return sorted(partition.values(), key=lambda item: item.range_key) if partition else []
    if not conditions:
        return None
    # The first condition picks, plainly compared (a pass over every item, so no DynamoType arithmetic); moto checks
    # all of them again on what is left. Only an equal string, or a value of the same non-string type, can match.
    name, expected = conditions[0]
    wanted_type, wanted = expected.type, expected.value
    matched = []
    for partition in table.items.values():
        for item in partition.values():
            value = item.attrs.get(name)
            if value is not None and value.type == wanted_type and (wanted_type != "S" or value.value == wanted):
                matched.append(item)
    matched.sort(key=lambda item: (item.hash_key, item.range_key))
    return matched


# TransactWriteItems: an undo log of the named items instead of copies of whole tables.


class _CopyWithoutTables(types.ModuleType):
    """Stands for the `copy` module inside moto.dynamodb.models: `deepcopy(table)` returns the table itself while
    the patched transact_write_items runs (it keeps the undo log), and is the real deepcopy everywhere else."""

    def __init__(self, table_class: Any) -> None:
        super().__init__("copy")
        self._table_class = table_class
        self.copy = copy.copy

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if _light_transaction.get() and isinstance(value, self._table_class) and value.stream_shard is None:
            return value  # a table with a stream is still copied whole: its stream records are rolled back too
        return copy.deepcopy(value, memo)


def _patch_transactions(backend_class: Any, backend_module: Any) -> None:
    from moto.dynamodb.exceptions import (
        MockValidationException,
        MultipleTransactionsException,
        TransactionCanceledException,
    )
    from moto.dynamodb.models.table import Table

    # moto 5.2.5 restores its table copies on these, and only these (MultipleTransactionsException is a
    # MockValidationException; listed for clarity).
    rolled_back = (TransactionCanceledException, MultipleTransactionsException, MockValidationException)
    moto_transact = backend_class.transact_write_items
    backend_module.copy = _CopyWithoutTables(Table)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo = _snapshot(self, transact_items)
        token = _light_transaction.set(True)
        try:
            moto_transact(self, transact_items)
        except rolled_back:
            _restore(undo)
            raise
        finally:
            _light_transaction.reset(token)

    backend_class.transact_write_items = transact_write_items


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, bool, Any]]:
    """(table, hash, range, partition existed, deep copy of the item or None) for every item the transaction names."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    undo = []
    for entry in transact_items:
        if not isinstance(entry, dict):
            continue
        for op_type, op in entry.items():
            if not isinstance(op, dict):
                continue
            table = backend.tables.get(op.get("TableName"))
            if table is None:
                continue
            attrs = op.get("Item") if op_type == "Put" else op.get("Key")
            if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
                continue
            if table.range_key_attr is not None and table.range_key_attr not in attrs:
                continue
            try:
                hash_value = DynamoType(attrs[table.hash_key_attr])
                range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            except Exception:  # malformed keys: moto rejects the op before changing anything
                continue
            existed = hash_value in table.items
            current = table.get_item(hash_value, range_value) if existed else None
            undo.append((table, hash_value, range_value, existed, copy.deepcopy(current)))
    return undo


def _restore(undo: list[tuple[Any, Any, Any, bool, Any]]) -> None:
    # Newest first: should the same key appear twice (moto refuses that), the oldest state wins.
    for table, hash_value, range_value, existed, item in reversed(undo):
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
            continue
        if item is None:
            partition = table.items.get(hash_value)
            if partition is not None:
                partition.pop(range_value, None)
                if not partition and not existed:
                    del table.items[hash_value]
        else:
            table.items[hash_value][range_value] = item


# TTL.


def sweep_expired(now: float | None = None) -> int:
    """Delete every item past its TTL in every moto DynamoDB table with TTL enabled; returns how many. Run it where
    moto's requests run (the server thread): moto's tables are not thread-safe."""
    from moto.dynamodb.models import dynamodb_backends

    now = time.time() if now is None else now
    deleted = 0
    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            for table in list(backend.tables.values()):
                deleted += _sweep_table(table, now)
    return deleted


def _sweep_table(table: Any, now: float) -> int:
    ttl = getattr(table, "ttl", None) or {}
    attribute = ttl.get("AttributeName")
    if ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
        return 0
    expired = []
    empty = []
    for hash_value, partition in table.items.items():
        members = partition.values() if table.range_key_attr else [partition]
        if not members:
            empty.append(hash_value)  # left by moto's lookups of missing keys in its defaultdict
        for item in members:
            if _expired(item.attrs.get(attribute), now):
                expired.append((item.hash_key, item.range_key))
    for hash_value, range_value in expired:
        table.delete_item(hash_value, range_value)
        if range_value is not None and not table.items.get(hash_value):
            table.items.pop(hash_value, None)
    for hash_value in empty:
        if not table.items.get(hash_value):
            table.items.pop(hash_value, None)
    return len(expired)


def _expired(value: Any, now: float) -> bool:
    if value is None or value.type != "N":
        return False  # DynamoDB ignores a TTL attribute that is not a Number
    try:
        expires = float(value.value)
    except ValueError:
        return False
    return now - TTL_IGNORED_AFTER_SECONDS <= expires < now
