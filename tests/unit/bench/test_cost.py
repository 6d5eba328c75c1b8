"""The cost table and the ceilings are computed from the measured counts: the arithmetic, checked by hand."""

from __future__ import annotations

import math

import pytest

from bench.cost import (
    LIMITS,
    AnswerUsage,
    Prices,
    ceilings,
    cost,
    message_units_of,
    summary,
    typical,
    users_at_limit,
)


def usage(**changes: object) -> AnswerUsage:
    values: dict[str, object] = {
        "design": "relay",
        "output_tokens": 1000,
        "input_tokens": 100,
        "client_messages": 1,
        "frames": 100,
        "frame_bytes": 50_000,
        "message_units": 100,
        "connection_s": 10.5,
        "lambda_ms": {"sendtext": 10_000.0, "$connect": 20.0},
        "lambda_invocations": {"sendtext": 1, "$connect": 1},
        "lambda_memory_mb": {"sendtext": 256, "$connect": 512},
        "dynamodb_read_units": 40.0,
        "dynamodb_write_units": 20.0,
        "dynamodb_requests": 50,
        "answer_s": 10.0,
    }
    values.update(changes)
    return AnswerUsage(**values)  # type: ignore[arg-type]


def test_frames_are_metered_in_32_kb_units() -> None:
    assert message_units_of([10, 32 * 1024, 32 * 1024 + 1, 100_000]) == 1 + 1 + 2 + 4


def test_the_cost_of_1000_answers_line_by_line() -> None:
    prices = Prices()

    bill = cost(usage(), answers=1000, prices=prices)

    # (1 question + 100 frames) × 1,000 answers = 101,000 messages at $1.00 per million
    assert bill.api_messages == pytest.approx(0.101)
    # 10.5 s is 1 started minute: 1,000 connection minutes at $0.25 per million; 61 s is 2
    assert bill.api_connection_minutes == pytest.approx(0.00025)
    assert cost(usage(connection_s=61.0)).api_connection_minutes == pytest.approx(0.0005)
    # 10 s × 0.25 GB + 0.02 s × 0.5 GB = 2.51 GB-s per answer; 2,510 GB-s at $0.0000133334
    assert bill.lambda_compute == pytest.approx(2510 * 0.0000133334)
    # 2 invocations per answer: 2,000 requests at $0.20 per million
    assert bill.lambda_requests == pytest.approx(0.0004)
    # 40,000 RRU at $0.125 per million, 20,000 WRU at $0.625 per million
    assert bill.dynamodb_reads == pytest.approx(0.005)
    assert bill.dynamodb_writes == pytest.approx(0.0125)
    # 100,000 input tokens at $1 per million + 1,000,000 output tokens at $5 per million
    assert bill.model == pytest.approx(0.1 + 5.0)
    assert bill.relay == pytest.approx(0.101 + 0.00025 + 2510 * 0.0000133334 + 0.0004 + 0.005 + 0.0125)
    assert bill.total == pytest.approx(bill.relay + 5.1)


def test_fewer_posts_cost_less_in_messages_and_nothing_else() -> None:
    chatty = cost(usage(frames=500, message_units=500))
    coalesced = cost(usage())
    assert chatty.api_messages - coalesced.api_messages == pytest.approx(400 * 1000 / 1e6)
    assert chatty.lambda_compute == coalesced.lambda_compute


def test_the_first_limit_is_the_one_with_the_highest_use() -> None:
    # GIVEN answers of 10 s posting 10 frames/s and reading 4 RRU/s
    measured = usage(frames=100, answer_s=10.0, dynamodb_read_units=40.0, dynamodb_write_units=20.0)

    rows = {row.users: row for row in ceilings(measured)}

    # 1,000 users streaming: Lambda at 1.0, @connections at 10,000/10,000 = 1.0, the route at 100/50 = 2.0
    assert rows[1000].use["lambda_concurrency"] == pytest.approx(1.0)
    assert rows[1000].use["connections_api_rps"] == pytest.approx(1.0)
    assert rows[1000].use["route_requests_per_s"] == pytest.approx(2.0)
    assert rows[1000].first == "route_requests_per_s"
    assert rows[10].use["dynamodb_reads_per_s"] == pytest.approx(10 * 4 / LIMITS.dynamodb_reads_per_s)
    admitted = users_at_limit(measured)
    assert admitted["lambda_concurrency"] == 1000 and admitted["route_requests_per_s"] == pytest.approx(500)


def test_the_summary_prices_the_median_repeat_of_each_design() -> None:
    runs = [usage(lambda_ms={"sendtext": ms, "$connect": 20.0}) for ms in (9_000.0, 30_000.0, 10_000.0)] + [
        usage(design="seed 001 (per chunk)", frames=500, message_units=500)
    ]

    section = summary(runs)

    assert typical(runs[:3]).lambda_ms["sendtext"] == 10_000.0
    relay, seed = section["designs"]["relay"], section["designs"]["seed 001 (per chunk)"]
    assert relay["repeats"] == 3 and relay["usage"]["lambda_ms"]["sendtext"] == 10_000.0
    assert seed["cost"]["api_messages"] == pytest.approx(0.501)
    assert math.isclose(relay["cost"]["total"], cost(typical(runs[:3])).total, rel_tol=1e-5)
    assert section["prices"]["source"] and section["prices"]["as_of"]
