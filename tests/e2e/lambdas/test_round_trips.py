"""What an answer costs in DynamoDB requests, counted by localgw's DynamoDB tap: in all, and before the model."""

from __future__ import annotations

import time

from tests.e2e.client import ask, simulator_records

FAST = "[[sim tokens=20 rate=5000 ttft=0]]"
MAX_REQUESTS_PER_ANSWER = 7
MAX_SEQUENTIAL_BEFORE_MODEL = 2


def wait_for_invocations(relay_gateway, route: str, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while relay_gateway.stats.invocations().get(route, 0) < count:
        assert time.monotonic() < deadline, f"{route} did not finish"
        time.sleep(0.02)


def test_an_answer_makes_at_most_seven_dynamodb_requests(connect, relay_gateway, relay_env):
    # A control interval longer than the answer: the periodic cancel/resume read (per process, not per answer)
    # stays out of the count.
    relay_env(RELAY_CONTROL_POLL_MS="5000")
    tap = relay_gateway.gateway.dynamodb.tap
    ws = connect()
    fields: dict[str, str] = {}
    for continuing in (False, True):
        finished = relay_gateway.stats.invocations().get("sendtext", 0) + 1
        before = dict(tap.counts)
        frames = ask(ws, f"count my requests {FAST}", **fields)
        fields = {"conversationId": frames[0]["conversationId"]}
        assert frames[-1]["type"] == "done"
        wait_for_invocations(relay_gateway, "sendtext", finished)
        made = {op: n - before.get(op, 0) for op, n in tap.counts.items() if n != before.get(op, 0)}
        assert sum(made.values()) <= MAX_REQUESTS_PER_ANSWER, made
        expected = {"TransactGetItems": 1, "TransactWriteItems": 2, "UpdateItem": 1}
        assert made == ({**expected, "Query": 1} if continuing else expected)


def pre_model_ms(connect, relay_gateway, marker: str) -> float:
    """From sending sendtext to the simulated model receiving the request, for a continued conversation (the
    costlier admission: it reads the conversation too)."""
    ws = connect()
    conversation_id = ask(ws, f"{marker}-first {FAST}")[0]["conversationId"]
    sent = time.monotonic()
    ask(ws, f"{marker} {FAST}", conversationId=conversation_id)
    record = next(r for r in simulator_records(relay_gateway.url) if r["last_user_text"] == marker)
    return (record["started_at"] - sent) * 1000


def test_at_most_two_sequential_round_trips_come_before_the_model(connect, relay_gateway):
    tap = relay_gateway.gateway.dynamodb.tap
    latency_ms = 100
    try:
        tap.latency_ms = 0
        base = min(pre_model_ms(connect, relay_gateway, f"rt-fast-{n}") for n in range(3))
        tap.latency_ms = latency_ms
        slow = min(pre_model_ms(connect, relay_gateway, f"rt-slow-{n}") for n in range(3))
    finally:
        tap.latency_ms = 0
    # Each sequential round trip adds the latency once; a third would add 300 ms.
    assert slow - base < (MAX_SEQUENTIAL_BEFORE_MODEL + 0.5) * latency_ms, (base, slow)
