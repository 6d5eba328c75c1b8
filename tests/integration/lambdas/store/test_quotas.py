"""Per-user quotas on moto's DynamoDB: in-flight answers (leases) and output tokens per UTC day.

moto applies a conditional write in several Python steps with no lock, so two threads can both pass one
condition; real DynamoDB applies each write atomically. `AtomicCalls` restores that per-call atomicity (and only
that): the read-modify-write across calls stays as racy as on AWS, which is what `acquire` must survive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas import env_vars
from lambdas.store import quotas
from lambdas.store.errors import ConflictError, QuotaExceededError, QuotaUnavailableError
from lambdas.store.quotas import Quotas, QuotaSettings
from lambdas.table_schema import PARTITION_KEY, SORT_KEY

TABLE = "relay-test"


class AtomicCalls:
    """A DynamoDB client whose every call is atomic, as on AWS."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                self.calls += 1
                return method(**kwargs)

        return call


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Untouchable:
    """A client that fails the test if any call reaches DynamoDB."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"DynamoDB was called ({name}) although the quota is unlimited")


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[AtomicCalls]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
                {"AttributeName": SORT_KEY, "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield AtomicCalls(client)


@pytest.fixture
def clock() -> Clock:
    # 2026-03-01 23:00:00 UTC: one hour before midnight.
    return Clock(datetime(2026, 3, 1, 23, 0, tzinfo=UTC).timestamp())


def make(dynamodb: Any, clock: Clock, *, inflight: int = 2, daily: int = 200_000) -> Quotas:
    return Quotas(dynamodb, TABLE, QuotaSettings(inflight=inflight, daily_output_tokens=daily), clock=clock)


# In-flight answers.


def test_a_user_gets_two_answers_at_once_and_the_third_waits(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock)
    limits.acquire("alice", "r1", lease_seconds=300)
    clock.now += 10
    limits.acquire("alice", "r2", lease_seconds=300)

    with pytest.raises(QuotaExceededError) as refused:
        limits.acquire("alice", "r3", lease_seconds=300)

    assert refused.value.quota == quotas.INFLIGHT
    assert refused.value.limit == 2
    assert refused.value.retry_after_s == 290  # until r1's lease ends


def test_users_do_not_share_slots(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock)
    limits.acquire("alice", "r1", 300)
    limits.acquire("alice", "r2", 300)

    limits.acquire("bob", "r1", 300)


def test_release_frees_a_slot(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock)
    limits.acquire("alice", "r1", 300)
    limits.acquire("alice", "r2", 300)

    limits.release("alice", "r1")

    limits.acquire("alice", "r3", 300)


def test_a_lease_left_by_a_crashed_answer_stops_blocking_when_it_expires(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock)
    limits.acquire("alice", "crashed-1", 60)
    limits.acquire("alice", "crashed-2", 120)

    clock.now += 61
    limits.acquire("alice", "r3", 300)

    with pytest.raises(QuotaExceededError) as refused:
        limits.acquire("alice", "r4", 300)
    assert refused.value.retry_after_s == 59  # crashed-2 still holds its slot


def test_acquiring_the_same_request_again_renews_instead_of_taking_a_second_slot(
    dynamodb: AtomicCalls, clock: Clock
) -> None:
    limits = make(dynamodb, clock)
    limits.acquire("alice", "r1", 60)
    limits.acquire("alice", "r1", 600)
    limits.acquire("alice", "r2", 60)  # r1 holds one slot, not two

    clock.now += 120  # r2 has expired; r1's renewed lease has not
    limits.acquire("alice", "r3", 60)
    with pytest.raises(QuotaExceededError):
        limits.acquire("alice", "r4", 60)


def test_release_is_safe_twice_and_for_unknown_requests(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock)
    limits.release("nobody", "r1")
    limits.acquire("alice", "r1", 60)

    limits.release("alice", "r1")
    limits.release("alice", "r1")

    limits.acquire("alice", "r2", 60)
    limits.acquire("alice", "r3", 60)


def test_concurrent_acquires_never_exceed_the_limit(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock, inflight=3)

    def attempt(n: int) -> bool:
        try:
            limits.acquire("alice", f"r{n}", 300)
        except QuotaExceededError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        granted = list(pool.map(attempt, range(32)))

    assert sum(granted) == 3
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "USER#alice"}, "sk": {"S": "INFLIGHT"}})["Item"]
    assert len(item["leases"]["M"]) == 3


def test_answers_held_at_the_same_time_stay_within_the_limit_under_churn(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock, inflight=2)
    holding = 0
    most = 0
    served = 0
    lock = threading.Lock()

    def answer(n: int) -> None:
        nonlocal holding, most, served
        deadline = time.monotonic() + 30
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            try:
                limits.acquire("alice", f"r{n}-{attempt}", 300)
            except QuotaExceededError:
                time.sleep(0.001)  # a refused client waits before asking again (retryAfter), not in a hot loop
                continue
            with lock:
                holding += 1
                most = max(most, holding)
                served += 1
            time.sleep(0.002)  # hold the slot a moment so answers overlap
            with lock:
                holding -= 1
            limits.release("alice", f"r{n}-{attempt}")
            return

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(answer, range(8)))

    assert most <= 2
    assert served == 8


def test_a_limit_of_zero_means_unlimited_and_costs_no_dynamodb_call(clock: Clock) -> None:
    limits = make(Untouchable(), clock, inflight=0, daily=0)

    for n in range(10):
        limits.acquire("alice", f"r{n}", 60)
    limits.release("alice", "r1")
    assert limits.check("alice") is None
    limits.add("alice", 10_000_000)


# Output tokens per UTC day.


def test_check_gives_the_tokens_left_today(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock, daily=200_000)
    assert limits.check("alice") == 200_000

    limits.add("alice", 150_000)
    limits.add("alice", 30_000)

    assert limits.check("alice") == 20_000


def test_the_daily_limit_refuses_until_utc_midnight(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock, daily=1000)
    limits.add("alice", 1200)  # the last answer ran past the limit: the next one is refused

    with pytest.raises(QuotaExceededError) as refused:
        limits.check("alice")

    assert refused.value.quota == quotas.DAILY_OUTPUT_TOKENS
    assert refused.value.retry_after_s == 3600
    assert limits.check("bob") == 1000


def test_a_new_utc_day_starts_from_zero(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock, daily=1000)
    limits.add("alice", 1000)

    clock.now += 3600  # midnight
    assert limits.check("alice") == 1000


def test_daily_counters_expire_two_days_after_their_day(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock)
    limits.add("alice", 5)

    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "USER#alice"}, "sk": {"S": "TOKENS#2026-03-01"}})["Item"]
    assert int(item["ttl"]["N"]) == int(datetime(2026, 3, 4, tzinfo=UTC).timestamp())
    assert item["outputTokens"] == {"N": "5"}


def test_zero_or_unknown_usage_is_not_written(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock)

    limits.add("alice", 0)

    assert dynamodb.calls == 0


def test_seconds_until_midnight_is_never_zero() -> None:
    midnight = datetime(2026, 3, 2, tzinfo=UTC).timestamp()

    assert quotas.seconds_until_utc_midnight(midnight - 0.2) == 1
    assert quotas.seconds_until_utc_midnight(midnight) == 86_400


# Failures, settings and the module-level API.


class Failing:
    def __getattr__(self, name: str) -> Any:
        def fail(**_: Any) -> Any:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, name)

        return fail


def test_dynamodb_failures_are_reported_as_quota_unavailable(clock: Clock) -> None:
    limits = make(Failing(), clock)

    for call in (
        lambda: limits.acquire("alice", "r1", 60),
        lambda: limits.release("alice", "r1"),
        lambda: limits.check("alice"),
        lambda: limits.add("alice", 10),
    ):
        with pytest.raises(QuotaUnavailableError):
            call()


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(env_vars.QUOTA_INFLIGHT, raising=False)
    monkeypatch.delenv(env_vars.QUOTA_DAILY_OUTPUT_TOKENS, raising=False)
    assert QuotaSettings.from_env() == QuotaSettings(inflight=2, daily_output_tokens=200_000)

    monkeypatch.setenv(env_vars.QUOTA_INFLIGHT, "0")
    monkeypatch.setenv(env_vars.QUOTA_DAILY_OUTPUT_TOKENS, "5000")
    assert QuotaSettings.from_env() == QuotaSettings(inflight=0, daily_output_tokens=5000)


@pytest.mark.parametrize("value", ["two", "-1"])
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(env_vars.QUOTA_INFLIGHT, value)

    with pytest.raises(ValueError):
        QuotaSettings.from_env()


def test_the_shared_store_uses_the_relay_table_and_the_environments_limits(
    dynamodb: AtomicCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lambdas import clients, store
    from lambdas.config import settings as relay_settings

    monkeypatch.setenv("RELAY_TABLE_NAME", TABLE)
    monkeypatch.setenv(env_vars.QUOTA_INFLIGHT, "1")
    monkeypatch.setenv(env_vars.QUOTA_DAILY_OUTPUT_TOKENS, "100")
    relay_settings.cache_clear()
    store.shared.cache_clear()
    clients.dynamodb.cache_clear()
    try:
        limits = store.shared().quotas
        limits.acquire("alice", "r1", 60)
        with pytest.raises(QuotaExceededError):
            limits.acquire("alice", "r2", 60)
        limits.release("alice", "r1")
        limits.acquire("alice", "r2", 60)

        limits.add("alice", 60)
        assert limits.check("alice") == 40
    finally:
        relay_settings.cache_clear()
        store.shared.cache_clear()
        clients.dynamodb.cache_clear()


def test_an_admissions_lease_and_a_finishs_release_and_charge_are_transaction_writes(
    dynamodb: AtomicCalls, clock: Clock
) -> None:
    from lambdas.store.table import Table

    limits = make(dynamodb, clock, inflight=1, daily=1000)
    table = Table(dynamodb, TABLE)
    snapshot = limits.read("alice")
    table.transact([limits.lease(snapshot, "r1", 300)])
    with pytest.raises(QuotaExceededError):
        limits.lease(limits.read("alice"), "r2", 300)
    with pytest.raises(ConflictError):  # the snapshot is stale: the version moved on
        table.transact([limits.lease(snapshot, "r2", 300)])

    table.transact([limits.release_write("alice", "r1"), limits.charge_write("alice", 250)])

    assert limits.check("alice") == 750
    limits.acquire("alice", "r2", 300)


# Both at once (the HTTP channel's admission).


def test_admit_tells_the_tokens_left_and_takes_a_slot_from_one_read(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock, daily=1000)
    limits.add("alice", 400)
    calls = dynamodb.calls

    assert limits.admit("alice", "r1", 300) == 600

    assert dynamodb.calls - calls == 2  # one snapshot of both items, one conditional write
    limits.admit("alice", "r2", 300)
    with pytest.raises(QuotaExceededError) as refused:
        limits.admit("alice", "r3", 300)
    assert refused.value.quota == quotas.INFLIGHT


def test_admit_refuses_a_spent_day_without_taking_a_slot(dynamodb: AtomicCalls, clock: Clock) -> None:
    limits = make(dynamodb, clock, daily=100)
    limits.add("alice", 100)

    with pytest.raises(QuotaExceededError) as refused:
        limits.admit("alice", "r1", 300)

    assert refused.value.quota == quotas.DAILY_OUTPUT_TOKENS
    assert limits.read("alice").leases == {}
