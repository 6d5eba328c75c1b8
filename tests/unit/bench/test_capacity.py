"""DynamoDB request units from item sizes, by DynamoDB's published rules (moto reports constants instead)."""

from __future__ import annotations

import json

import pytest

from bench.capacity import DynamoMeter, item_size, read_units, units_of, value_size, write_units
from lambdas import table_schema

NOWHERE = lambda table, key: None  # noqa: E731


def test_item_size_counts_names_and_values_as_dynamodb_does() -> None:
    assert value_size({"S": "héllo"}) == 6
    assert value_size({"N": "12345"}) == 4  # 3 bytes for 5 digits + 1
    assert value_size({"BOOL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"S": "c"}]}) == 3 + (2 + 1) + (1 + 1)
    assert item_size({"pk": {"S": "abc"}, "n": {"N": "7"}}) == (2 + 3) + (1 + 2)


def test_units_round_up_per_4_kb_read_and_1_kb_write() -> None:
    assert read_units(100, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2
    assert read_units(10, consistent=True, transactional=True) == 2
    assert write_units(0) == 1
    assert write_units(1025) == 2
    assert write_units(100, transactional=True) == 2
    assert write_units(100, indexed=True) == 2


def test_a_transaction_pays_double_for_every_item_and_a_put_into_the_index_again() -> None:
    big = {"pk": {"S": "a"}, "text": {"S": "x" * 3000}}
    indexed = {"pk": {"S": "b"}, table_schema.OWNER_INDEX_PARTITION_KEY: {"S": "user"}}
    request = {
        "TransactItems": [
            {"Put": {"TableName": "T", "Item": big}},
            {"Put": {"TableName": "T", "Item": indexed}},
            {"ConditionCheck": {"TableName": "T", "Key": {"pk": {"S": "c"}}}},
        ]
    }
    assert units_of("TransactWriteItems", request, {}, NOWHERE) == (0.0, 3 * 2 + 1 * 2 * 2 + 1 * 2)


def test_an_update_is_billed_by_the_item_it_leaves() -> None:
    after = {"pk": {"S": "a"}, "text": {"S": "x" * 5000}}
    request = {"TableName": "T", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :n"}
    assert units_of("UpdateItem", request, {}, lambda table, key: after) == (0.0, 5)


def test_the_meter_adds_up_requests_and_moto_s_reported_capacity() -> None:
    meter = DynamoMeter(NOWHERE)
    get = {"TableName": "T", "Key": {"pk": {"S": "a"}}, "ConsistentRead": True}
    found = {"Item": {"pk": {"S": "a"}}, "ConsumedCapacity": {"TableName": "T", "CapacityUnits": 0.5}}
    before = meter.snapshot()

    meter("GetItem", json.dumps(get).encode(), json.dumps(found).encode())
    meter("PutItem", json.dumps({"TableName": "T", "Item": {"pk": {"S": "b"}}}).encode(), b"{}")

    spent = meter.snapshot().minus(before)
    assert dict(spent.requests) == {"GetItem": 1, "PutItem": 1}
    assert spent.read_units == 1 and spent.write_units == 1 and spent.reported_units == pytest.approx(0.5)
