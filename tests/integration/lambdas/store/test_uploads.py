"""Texts sent in parts, against moto's DynamoDB: every part stored once, the upload claimed by exactly one caller,
and every way a part is refused."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.store.uploads import DuplicatePartError, PartConflictError, UploadExpiredError, Uploads
from tests.integration.conftest import TABLE

FIELDS = {"model": "m1", "system": "s1"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def uploads(table: Any, clock: Clock) -> Uploads:
    return Uploads(table, TABLE, clock=clock, sleep=lambda _: None)


def add(uploads: Uploads, index: int, text: str, *, count: int = 3, fields=FIELDS, owner: str = "ann") -> None:
    uploads.add(owner, "r1", index=index, count=count, text=text, fields=fields, ttl_seconds=300)


def test_the_upload_is_claimed_only_once_every_part_is_in_whatever_the_order(uploads):
    add(uploads, 2, "c")
    assert not uploads.claim("ann", "r1", 3)
    add(uploads, 0, "a")
    assert not uploads.claim("ann", "r1", 3)
    add(uploads, 1, "b")
    assert uploads.claim("ann", "r1", 3)
    assert not uploads.claim("ann", "r1", 3)
    assert uploads.text("ann", "r1", 3) == "abc"


class OneAtATime:
    """moto in-process is not thread-safe; DynamoDB applies each request atomically. One lock around each request
    is that (as localgw's moto server does), while the callers' requests still interleave in any order."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                return method(**kwargs)

        return call


def test_parts_stored_concurrently_are_claimed_by_exactly_one_caller(table, clock):
    uploads = Uploads(OneAtATime(table), TABLE, clock=clock, sleep=lambda _: None)
    count = 40
    start = threading.Barrier(count)

    def one(index: int) -> bool:
        start.wait()
        add(uploads, index, f"<{index:02d}>", count=count)
        return uploads.claim("ann", "r1", count)

    with ThreadPoolExecutor(count) as pool:
        claims = list(pool.map(one, range(count)))
    assert claims.count(True) == 1
    assert uploads.text("ann", "r1", count) == "".join(f"<{i:02d}>" for i in range(count))


def test_a_resent_part_is_a_duplicate_and_another_text_for_it_a_conflict(uploads):
    add(uploads, 0, "a")
    with pytest.raises(DuplicatePartError):
        add(uploads, 0, "a")
    with pytest.raises(PartConflictError) as conflict:
        add(uploads, 0, "x")
    assert conflict.value.field == "part"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"count": 4}, "parts"),
        ({"fields": {**FIELDS, "model": "m2"}}, "model"),
        ({"fields": {"model": "m1"}}, "system"),
    ],
)
def test_a_part_that_contradicts_the_upload_names_the_field(uploads, change, field):
    add(uploads, 0, "a")
    with pytest.raises(PartConflictError) as conflict:
        add(uploads, 1, "b", **change)
    assert conflict.value.field == field


def test_a_part_after_the_expiry_is_refused_as_expired(uploads, clock):
    add(uploads, 0, "a")
    clock.now += 301
    with pytest.raises(UploadExpiredError):
        add(uploads, 1, "b")


def test_another_owners_parts_never_join(uploads):
    add(uploads, 0, "a", count=2)
    add(uploads, 1, "B", count=2, owner="bob")
    assert not uploads.claim("ann", "r1", 2) and not uploads.claim("bob", "r1", 2)


class ConflictOnce:
    """A client whose first TransactWriteItems is cancelled the way DynamoDB cancels one that collided with another
    transaction on the same item (TransactionConflict, no item returned)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.conflicts = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if self.conflicts:
            self.conflicts -= 1
            reasons = [{"Code": "None"}, {"Code": "TransactionConflict", "Message": "Transaction is ongoing"}]
            error = {"Error": {"Code": "TransactionCanceledException", "Message": "x"}, "CancellationReasons": reasons}
            raise ClientError(error, "TransactWriteItems")
        return self._client.transact_write_items(**kwargs)


def test_a_transaction_conflict_with_a_concurrent_part_is_tried_again(table, clock):
    uploads = Uploads(ConflictOnce(table), TABLE, clock=clock, sleep=lambda _: None)
    uploads.add("ann", "r1", index=0, count=1, text="a", fields=FIELDS, ttl_seconds=300)
    assert uploads.claim("ann", "r1", 1)
