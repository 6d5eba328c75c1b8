"""Admission against moto's DynamoDB: what it reads and writes, and every way it refuses."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambdas.answer import admission as admission_module
from lambdas.answer.admission import Accepted, Admission, CancelledBeforeStart, Rejected
from lambdas.config import settings
from lambdas.store import Store, keys
from lambdas.store.quotas import QuotaSettings
from tests.integration.conftest import TABLE


class Calls:
    """A DynamoDB client that records its calls and can run something before one."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []
        self.before: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            hook = self.before.pop(name, None)
            if hook is not None:
                hook()
            return method(**kwargs)

        return call


@pytest.fixture
def calls(table: Any) -> Calls:
    return Calls(table)


@pytest.fixture
def admit(calls: Calls, table: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(admission_module, "resolve", lambda alias: ("sim", object()))
    limits = QuotaSettings(inflight=1, daily_output_tokens=100)
    store = Store.over(calls, TABLE, limits=limits)
    admission = Admission(store, ThreadPoolExecutor(2))

    def run(user: str = "ann", **message: Any) -> Accepted | CancelledBeforeStart:
        event = {
            "body": json.dumps({"action": "sendtext", "text": "hello", **message}),
            "requestContext": {"connectionId": "conn-1", "authorizer": {"principalId": user}},
        }
        calls.calls.clear()
        return admission.admit(event, settings(), remaining_s=60, started_at=time.monotonic())

    run.store = Store.over(table, TABLE, limits=limits)  # type: ignore[attr-defined]  # calls not recorded
    return run


def test_a_new_conversation_takes_one_read_and_one_transaction(admit, calls, table):
    accepted = admit(requestId="r1", maxTokens=500)

    assert isinstance(accepted, Accepted)
    assert calls.calls == ["transact_get_items", "transact_write_items"]
    assert (accepted.request_id, accepted.user, accepted.answer_turn, accepted.max_tokens) == ("r1", "ann", 2, 100)
    record = admit.store.answers.get("ann", "r1")
    assert (record.status, record.conversation_id) == ("streaming", accepted.conversation_id)
    lease = table.get_item(TableName=TABLE, Key=keys.inflight("ann"))["Item"]
    assert set(lease["leases"]["M"]) == {"r1"}


def test_continuing_a_conversation_reads_it_in_the_same_round(admit, calls):
    first = admit(requestId="r1")
    admit.store.quotas.release("ann", "r1")
    second = admit(requestId="r2", conversationId=first.conversation_id)

    assert sorted(calls.calls) == ["query", "transact_get_items", "transact_write_items"]
    assert (second.conversation_id, second.answer_turn) == (first.conversation_id, 4)


def test_a_reused_request_id_is_refused_naming_the_field(admit):
    admit(requestId="r1")
    admit.store.quotas.release("ann", "r1")
    with pytest.raises(Rejected) as refused:
        admit(requestId="r1")
    frame = refused.value.frame
    assert (frame["code"], frame["field"], frame["requestId"]) == ("bad_request", "requestId", "r1")


def test_another_user_may_use_the_same_request_id(admit):
    admit(requestId="shared")
    assert isinstance(admit(user="bob", requestId="shared"), Accepted)


def test_a_spent_quota_is_rate_limited_with_retry_after_and_the_request_id(admit):
    admit(requestId="r1")
    with pytest.raises(Rejected) as refused:
        admit(requestId="r2")
    frame = refused.value.frame
    assert (frame["code"], frame["requestId"], frame["retryable"]) == ("rate_limited", "r2", True)
    assert frame["retryAfter"] >= 1


def test_a_pending_cancel_ends_the_answer_before_it_starts(admit, table):
    assert admit.store.answers.cancel_before_start("ann", "early", "conn-1")

    cancelled = admit(requestId="early")

    assert isinstance(cancelled, CancelledBeforeStart)
    start, done = cancelled.frames
    assert (start["type"], done["type"], done["seq"], done["stopReason"]) == ("start", "done", 1, "cancelled")
    record = admit.store.answers.get("ann", "early")
    assert record.status == "ended"
    assert admit.store.answers.transcript(record) == cancelled.frames
    assert "Item" not in table.get_item(TableName=TABLE, Key=keys.inflight("ann"))  # no slot was taken
    turns = admit.store.conversations.load(start["conversationId"], "ann").turns
    assert [(turn.role, turn.status, turn.stop) for turn in turns] == [
        ("user", "complete", None),
        ("assistant", "partial", "cancelled"),
    ]


def test_a_cancel_between_the_read_and_the_transaction_still_wins(admit, calls):
    calls.before["transact_write_items"] = lambda: admit.store.answers.cancel_before_start("ann", "racy", "conn-1")

    cancelled = admit(requestId="racy")

    assert isinstance(cancelled, CancelledBeforeStart)
    assert calls.calls == ["transact_get_items", "transact_write_items", "transact_write_items"]


def test_a_withdrawn_cancel_lets_the_answer_start(admit, calls):
    admit.store.answers.cancel_before_start("ann", "late", "conn-1")
    calls.before["transact_write_items"] = lambda: admit.store.answers.withdraw_cancel("ann", "late")

    assert isinstance(admit(requestId="late"), Accepted)


def test_a_lease_taken_meanwhile_is_read_again(admit, calls):
    def another_answer_comes_and_goes() -> None:
        admit.store.quotas.acquire("ann", "other", 60)
        admit.store.quotas.release("ann", "other")

    calls.before["transact_write_items"] = another_answer_comes_and_goes

    assert isinstance(admit(requestId="r1"), Accepted)
    assert calls.calls.count("transact_get_items") == 2


def test_a_failed_write_is_internal_retryable_and_keeps_the_request_id(admit, calls):
    def fail() -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems")

    calls.before["transact_write_items"] = fail
    with pytest.raises(Rejected) as refused:
        admit(requestId="keep")
    frame = refused.value.frame
    assert (frame["code"], frame["retryable"], frame["requestId"]) == ("internal", True, "keep")
