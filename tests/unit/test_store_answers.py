"""Answer records against moto's DynamoDB: the batched cancel/resume read streaming answers make."""

from __future__ import annotations

import pytest
from moto import mock_aws

from lambdas import clients
from lambdas.config import settings
from lambdas.store import answers
from lambdas.store.answers import Control
from localgw.dynamodb import LocalDynamoDB

TABLE = "relay-answers-unit"


@pytest.fixture
def table(monkeypatch):
    monkeypatch.setenv("RELAY_TABLE_NAME", TABLE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    settings.cache_clear()
    clients.dynamodb.cache_clear()
    with mock_aws():
        LocalDynamoDB._create(clients.dynamodb(), TABLE)
        yield clients.dynamodb()
    clients.dynamodb.cache_clear()
    settings.cache_clear()


def streaming(table, request_id: str) -> None:
    table.put_item(**answers.new_record_put(request_id, "ann", "conn-1", "c1", 60)["Put"])


def test_one_read_covers_every_answer_even_beyond_one_batch(table):
    ids = [f"r{index}" for index in range(answers.MAX_BATCH_KEYS + 30)]
    for request_id in ids:
        streaming(table, request_id)
    assert answers.request_cancel("r7")
    assert answers.request_resume("r120", "conn-2", 5)

    controls = answers.poll_controls(ids)

    assert set(controls) == set(ids)
    assert controls["r7"] == Control(cancel=True)
    assert controls["r120"] == Control(resume_connection="conn-2", resume_after=5, resume_nonce=1)
    assert all(controls[request_id] == Control() for request_id in ids if request_id not in {"r7", "r120"})


def test_an_answer_without_a_record_reads_as_no_request(table):
    streaming(table, "here")
    assert answers.poll_controls(["here", "gone", "here"]) == {"here": Control(), "gone": Control()}


def test_no_answers_means_no_request(table):
    assert answers.poll_controls([]) == {}
