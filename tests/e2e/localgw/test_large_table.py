"""localgw over a long session: a table of tens of thousands of items answers as fast as a fresh one.

A `make dev` left running accumulates connections, answers and conversations. moto's DynamoDB sorted the whole table
for every Query and copied it whole for every TransactWriteItems, so the relay's requests slowed with the table until
they timed out (localgw/moto_patches.py). These tests seed a table of the relay's item shapes straight into the moto
server, then time single requests and run a concurrent load of real WebSocket clients against the real handlers.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import connect as async_connect

from localgw.dynamodb import LocalDynamoDB
from tests.e2e.client import answer_text, expected_reply
from tests.fakes import assert_well_formed

SEEDED_ITEMS = 30_000
CONNECTIONS = 100
FAST = "[[sim rate=5000 ttft=0]]"
pytestmark = pytest.mark.timeout(120)


def relay_items(count: int, now: int) -> list[dict[str, Any]]:
    """`count` items shaped like lambdas/store and lambdas/quotas write them, live for a day."""
    later = {"N": str(now + 86_400)}
    items: list[dict[str, Any]] = []
    index = 0
    while len(items) < count:
        user = f"seed-user-{index % 500}"
        stamp = f"2026-12-06T{index // 3600 % 24:02d}:{index // 60 % 60:02d}:{index % 60:02d}.000000Z"
        items += [
            {"pk": {"S": f"CONN#seed-c{index}"}, "sk": {"S": "META"}, "connectionId": {"S": f"seed-c{index}"},
             "connectedAt": {"N": "1"}, "sourceIp": {"S": "127.0.0.1"}, "userId": {"S": user}, "ttl": later},
            {"pk": {"S": f"REQ#seed-r{index}"}, "sk": {"S": "META"}, "requestId": {"S": f"seed-r{index}"},
             "owner": {"S": user}, "connectionId": {"S": f"seed-c{index}"}, "conversationId": {"S": f"seed-v{index}"},
             "status": {"S": "ended"}, "transcriptParts": {"N": "1"}, "ttl": later},
            {"pk": {"S": f"REQ#seed-r{index}"}, "sk": {"S": "FRAMES#0000"},
             "frames": {"S": json.dumps([{"type": "delta", "text": "seeded words "}] * 20)}, "ttl": later},
            {"pk": {"S": f"CONV#seed-v{index}"}, "sk": {"S": "META"}, "conversationId": {"S": f"seed-v{index}"},
             "owner": {"S": user}, "title": {"S": "seeded"}, "turnCount": {"N": "2"}, "updatedAt": {"S": stamp},
             "gsi1pk": {"S": f"USER#{user}"}, "gsi1sk": {"S": f"{stamp}#seed-v{index}"}, "ttl": later},
            {"pk": {"S": f"CONV#seed-v{index}"}, "sk": {"S": "TURN#00001#00"}, "turn": {"N": "1"},
             "role": {"S": "user"}, "text": {"S": "a seeded question " * 5}, "ttl": later},
            {"pk": {"S": f"CONV#seed-v{index}"}, "sk": {"S": "TURN#00002#00"}, "turn": {"N": "2"},
             "role": {"S": "assistant"}, "text": {"S": "a seeded answer " * 20}, "ttl": later},
        ]  # fmt: skip
        if index % 10 == 0:
            items.append({"pk": {"S": f"USER#{user}"}, "sk": {"S": f"TOKENS#2026-11-{index // 500 % 28 + 1:02d}"},
                          "outputTokens": {"N": "100"}, "ttl": later})  # fmt: skip
        index += 1
    return items[:count]


def seed(dynamodb: LocalDynamoDB, table_name: str, items: list[dict[str, Any]]) -> None:
    """Put `items` into moto's table directly, on the server thread (no request runs meanwhile)."""

    def put_all() -> None:
        from moto.dynamodb.models import dynamodb_backends

        backends = [
            backend
            for regions in dynamodb_backends.values()
            for backend in regions.values()
            if table_name in backend.tables
        ]
        assert backends, f"no moto table {table_name}"
        for item in items:
            backends[0].put_item(table_name, item)

    dynamodb.call(put_all)


def median_ms(call: Callable[[int], Any], times: int = 15) -> float:
    taken = []
    for attempt in range(times):
        started = time.perf_counter()
        call(attempt)
        taken.append((time.perf_counter() - started) * 1000)
    return statistics.median(taken)


@pytest.fixture(scope="module")
def big_table() -> Any:
    local = LocalDynamoDB(region="us-east-1", ttl_sweep_seconds=0)
    local.start()
    table = "localgw-large-table-test"
    local.create_table(table)
    seed(local, table, relay_items(SEEDED_ITEMS, int(time.time())))
    yield local, table
    local.stop()


def test_requests_on_a_large_table_take_milliseconds(big_table) -> None:
    # Measured at 20 000 items before localgw/moto_patches.py: Query ~285 ms, TransactWriteItems ~2 s.
    local, table = big_table
    client = local.client()
    assert client.describe_table(TableName=table)["Table"]["ItemCount"] >= SEEDED_ITEMS

    def conversation(attempt: int) -> None:
        items = client.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"CONV#seed-v{attempt}"}},
            ConsistentRead=True,
        )["Items"]
        assert [item["sk"]["S"] for item in items] == ["META", "TURN#00001#00", "TURN#00002#00"]

    def listing(attempt: int) -> None:
        items = client.query(
            TableName=table,
            IndexName="byOwner",
            KeyConditionExpression="gsi1pk = :owner",
            ExpressionAttributeValues={":owner": {"S": f"USER#seed-user-{attempt}"}},
            ScanIndexForward=False,
            Limit=5,
        )["Items"]
        assert len(items) == 5
        assert [item["gsi1sk"]["S"] for item in items] == sorted((item["gsi1sk"]["S"] for item in items), reverse=True)

    def transaction(attempt: int) -> None:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": f"REQ#timed-{attempt}"}, "sk": {"S": "META"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": f"CONV#seed-v{attempt}"}, "sk": {"S": "META"}},
                        "UpdateExpression": "SET turnCount = turnCount + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )

    timings = {
        "Query": median_ms(conversation),
        "Query(byOwner)": median_ms(listing),
        "TransactWriteItems": median_ms(transaction),
    }
    # A fresh table answers each in 2-5 ms here; generous bounds for a loaded 2-core machine.
    assert timings["Query"] < 40, timings
    assert timings["TransactWriteItems"] < 40, timings
    assert timings["Query(byOwner)"] < 150, timings


async def _two_answers(ws_url: str, token: str, index: int) -> list[list[dict[str, Any]]]:
    answers = []
    async with async_connect(f"{ws_url}?token={token}", open_timeout=30, close_timeout=10) as ws:
        conversation: dict[str, str] = {}
        for turn in (1, 2):
            text = f"load {index} turn {turn} {FAST}"
            await ws.send(
                json.dumps({"action": "sendtext", "text": text, "requestId": f"big-{index}-{turn}", **conversation})
            )
            frames: list[dict[str, Any]] = []
            while not frames or frames[-1].get("type") not in ("done", "error"):
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 45)))
            answers.append(frames)
            if "conversationId" in frames[0]:
                conversation = {"conversationId": frames[0]["conversationId"]}
    return answers


def test_a_long_sessions_table_serves_a_concurrent_load(relay_gateway) -> None:
    gateway = relay_gateway.gateway
    assert gateway.dynamodb is not None and relay_gateway.dev_issuer is not None
    seed(gateway.dynamodb, gateway.table_name, relay_items(SEEDED_ITEMS, int(time.time())))
    tokens = [relay_gateway.dev_issuer.mint(f"big-table-user-{index}") for index in range(CONNECTIONS)]

    async def run() -> list[Any]:
        return await asyncio.gather(
            *(_two_answers(relay_gateway.ws_url, token, index) for index, token in enumerate(tokens)),
            return_exceptions=True,
        )

    started = time.monotonic()
    results = asyncio.run(run())
    elapsed = time.monotonic() - started

    failures = [result for result in results if isinstance(result, BaseException)]
    assert not failures, f"{len(failures)} connections failed, first: {failures[0]!r}"
    bad = []
    for index, answers in enumerate(results):
        for turn, frames in enumerate(answers, start=1):
            request_id = f"big-{index}-{turn}"
            done = frames[-1]
            if done["type"] != "done" or any(frame.get("requestId") != request_id for frame in frames):
                bad.append((request_id, done))
                continue
            assert_well_formed(frames, request_id)
            if turn == 1:
                assert answer_text(frames) == expected_reply(f"load {index} turn 1 {FAST}").text
            else:
                assert answer_text(frames).startswith("Turn 2."), answer_text(frames)[:80]
    assert not bad, f"{len(bad)} of {2 * CONNECTIONS} answers failed, e.g. {bad[:3]}"
    assert elapsed < 60, f"{2 * CONNECTIONS} answers took {elapsed:.1f} s"
