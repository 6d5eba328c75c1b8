"""The benchmark harness (bench/): its arithmetic on hand-made data, and `python -m bench --quick` end to end so the
harness cannot rot. These check correctness facts (every frame there, in order, the planned text), never speed."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report
from bench.measure import (
    Answer,
    Checked,
    ChunkEmit,
    FirstTokenRun,
    Received,
    RunMetrics,
    SimRecord,
    Tradeoff,
    chunk_lags,
    curve_frames,
    decode,
    even_text_lag_bound_ms,
    is_terminal,
    lag_bound_ms,
    measure,
    percentile,
    summarize,
    summarize_first_token,
    tradeoffs,
)
from bench.plan import BASELINE, ENGINE, Cell, engine_with_window
from bench.run import GridRun
from tests import REPO_ROOT


def relay_frame(seq: int, kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, "requestId": "r1", "seq": seq, **fields})


def emits(*chars: int, start: float = 10.0, step: float = 0.1) -> tuple[ChunkEmit, ...]:
    return tuple(ChunkEmit(i, n, start + i * step, i * step) for i, n in enumerate(chars))


def test_lag_is_measured_to_the_frame_that_completes_each_chunk() -> None:
    # GIVEN chunks of 3, 4 and 5 characters written at t=10.0, 10.1, 10.2
    chunks = emits(3, 4, 5)
    # WHEN the client got 2 characters at 10.05, 7 more (through chunk 1) at 10.15 and the rest at 10.30
    receipts = [(10.05, 2), (10.15, 9), (10.30, 12)]

    lags = chunk_lags(chunks, receipts)

    # THEN chunk 0 completes with the second frame, chunk 1 too, chunk 2 with the third
    assert lags == pytest.approx([0.15, 0.05, 0.10])


def test_a_chunk_that_never_arrived_has_no_lag() -> None:
    assert chunk_lags(emits(3, 4), [(10.05, 3)]) == [pytest.approx(0.05), None]


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10.0], 95) == 10.0
    assert percentile(list(range(101)), 95) == 95


def test_relay_frames_decode_into_text_with_receive_times() -> None:
    frames = [
        Received(1.0, relay_frame(0, "start", model="claude")),
        Received(1.5, relay_frame(1, "delta", text="Hello")),
        Received(1.6, relay_frame(2, "delta", text=" world")),
        Received(1.7, relay_frame(3, "done", stopReason="end_turn")),
    ]
    answer = decode("relay", 0.5, frames, "r1")

    assert answer.problems == []
    assert answer.text == "Hello world"
    assert answer.text_receipts == [(1.5, 5), (1.6, 11)]
    assert answer.terminal_at == 1.7
    assert answer.complete and answer.ordered


def test_a_seq_gap_and_a_missing_terminal_are_problems() -> None:
    frames = [Received(1.0, relay_frame(0, "start")), Received(1.1, relay_frame(2, "delta", text="x"))]
    answer = decode("relay", 0.5, frames, "r1")

    assert not answer.ordered
    assert not answer.complete


def test_a_crashed_handler_ends_the_answer_incomplete() -> None:
    crash = json.dumps({"message": "Internal server error", "connectionId": "c=", "requestId": "x"})
    frames = [Received(1.0, relay_frame(0, "start")), Received(1.1, crash)]
    answer = decode("relay", 0.5, frames, "r1")

    assert is_terminal("relay", crash)
    assert answer.ordered and not answer.complete
    assert any("crashed" in problem for problem in answer.problems)


def test_baseline_frames_are_json_strings_then_done() -> None:
    frames = [Received(1.0, '"Turn"'), Received(1.1, '" 1."'), Received(1.2, '{"type": "done"}')]
    answer = decode("baseline", 0.5, frames)

    assert answer.problems == []
    assert answer.text == "Turn 1."
    assert is_terminal("baseline", frames[-1].data)
    assert not is_terminal("relay", frames[-1].data)  # a relay terminal carries a seq


def test_measure_combines_client_and_simulator_times() -> None:
    record = SimRecord("hi", started_at=10.0, outcome="completed", emits=emits(2, 3, start=10.1))
    frames = [
        Received(10.00, relay_frame(0, "start")),
        Received(10.12, relay_frame(1, "delta", text="ab")),
        Received(10.25, relay_frame(2, "delta", text="cde")),
        Received(10.26, relay_frame(3, "done")),
    ]
    metrics = measure(decode("relay", 9.9, frames, "r1"), record, output_tokens=2, latency_ms=10)

    assert metrics.completion_s == pytest.approx(0.36)
    assert metrics.generation_s == pytest.approx(0.3)  # last chunk written at 10.2, request sent at 9.9
    assert metrics.frames == 4
    assert metrics.posts_per_1k_tokens == 2000
    assert metrics.lags_ms == pytest.approx([20.0, 50.0])
    assert metrics.first_delta_ms == pytest.approx(20.0)
    assert metrics.first_delta_net_ms == pytest.approx(10.0)
    assert metrics.chunk_times_s == pytest.approx((0.0, 0.1))
    assert metrics.text_span_s == pytest.approx(0.1)


def even_chunks(count: int, step: float) -> list[float]:
    return [i * step for i in range(count)]


def test_even_text_bound_is_the_percentile_of_the_cycle_plus_latency() -> None:
    # 50 frames carry text in 48 posts over 3.3 s: the p95 wait is at least 0.95 × 3300 / 48 ms
    assert even_text_lag_bound_ms(3.3, 50, 20) == pytest.approx(0.95 * 3300 / 48 + 20)
    assert even_text_lag_bound_ms(1.0, 12, 5, q=50) == pytest.approx(0.5 * 1000 / 10 + 5)
    # start and done alone carry no text: no lag is reachable
    assert even_text_lag_bound_ms(1.0, 2, 20) == math.inf


def test_chunk_bound_covers_the_chunks_with_as_few_posts_as_given() -> None:
    # GIVEN 10 chunks 100 ms apart: the p95 (index 8 of 10) needs 9 chunks posted within the bound
    chunks = even_chunks(10, 0.1)
    # WHEN 4 frames carry them (2 posts): the best split is 5 + 4 chunks, so one post covers 400 ms of chunks
    bound = lag_bound_ms([chunks], 4, latency_ms=20)
    # THEN the p95 cannot be below 400 ms + L, under the even-text bound (which counts the silence after a chunk)
    assert bound == pytest.approx(420)
    assert bound < even_text_lag_bound_ms(0.9, 4, 20) == pytest.approx(447.5)
    # one post per chunk leaves nothing to wait for but L
    assert lag_bound_ms([chunks], 12, latency_ms=20) == pytest.approx(20)
    assert lag_bound_ms([chunks], 2, latency_ms=20) == math.inf


def brute_force_bound_ms(chunks: list[float], posts: int, latency_ms: float) -> float:
    """Every schedule of `posts` posts at chunk times (a post never gains by waiting past its last chunk) that
    carries the last chunk: the lowest 95th-percentile-index wait, + L."""
    best = math.inf
    index = math.floor(0.95 * (len(chunks) - 1))
    for times in itertools.combinations(chunks[:-1], posts - 1):
        starts = [*times, chunks[-1]]
        waits = sorted(min(s for s in starts if s >= t) - t for t in chunks)
        best = min(best, waits[index] * 1000 + latency_ms)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_chunk_bound_never_exceeds_the_best_schedule(seed: int) -> None:
    rng = random.Random(seed)
    chunks = sorted(round(rng.uniform(0, 1), 3) for _ in range(9))
    for posts in (1, 2, 3, 4):
        assert lag_bound_ms([chunks], posts + 2, 10) <= brute_force_bound_ms(chunks, posts, 10) + 1e-6


def test_chunk_bound_pools_runs_like_the_percentile() -> None:
    # GIVEN 10 chunks 100 ms apart in 2 posts: alone, the p90 (index 8) leaves 1 chunk late → 5 per post, 400 ms
    chunks = even_chunks(10, 0.1)
    assert lag_bound_ms([chunks], 4, 0, q=90) == pytest.approx(400)
    # WHEN pooled with a run posting every chunk: the p90 of 20 (index 17) leaves 2 late, both in the slow run
    # THEN 4 chunks per post suffice there
    assert lag_bound_ms([chunks, chunks], [12, 4], 0, q=90) == pytest.approx(300)


def grid_run(cell: Cell, variant: object, repeat: int, frames: int, chunks: list[float], lags: list[float]) -> GridRun:
    metrics = RunMetrics(
        completion_s=1.1,
        generation_s=1.0,
        completion_ratio=1.01,
        frames=frames,
        posts_per_1k_tokens=frames * 1000 / 200,
        lags_ms=lags,
        missing_chunks=0,
        first_delta_ms=17.0,
        first_delta_net_ms=2.0,
        simulator_drift_ms=1.0,
        chunk_times_s=tuple(chunks),
    )
    return GridRun(cell, variant, repeat, 0, Checked(Answer(sent_at=0.0), metrics, True, []))  # type: ignore[arg-type]


def hand_made_sweep(baseline_frames: int = 102) -> Tradeoff:
    # 101 chunks 10 ms apart (200 tokens), L = 15 ms; the baseline posts every chunk plus done (102 frames)
    slow = engine_with_window(100)
    cell = Cell(300, 15, (BASELINE, ENGINE, slow))
    chunks = even_chunks(101, 0.01)
    runs = [
        grid_run(cell, BASELINE, 0, baseline_frames, chunks, [15.0] * 101),
        grid_run(cell, ENGINE, 0, 30, chunks, [40.0] * 90 + [70.0] * 11),
        grid_run(cell, slow, 0, 12, chunks, [90.0] * 90 + [130.0] * 11),
    ]
    [sweep] = tradeoffs(summarize(runs, (cell,)), runs)
    return sweep


def test_sweep_orders_windows_and_checks_both_goals() -> None:
    sweep = hand_made_sweep()

    assert [row.variant.name for row in sweep.windows] == ["engine", "engine 100ms"]
    default, slow = sweep.windows
    assert default.posts_share_of_baseline == pytest.approx(30 / 102)
    assert (default.checks()["posts"], default.checks()["lag_p95"]) == (False, True)
    assert (slow.checks()["posts"], slow.checks()["lag_p95"]) == (False, False)
    # 12 frames = 10 posts for 96 chunks within the bound: 10 chunks (90 ms) per post
    assert slow.lag_p95_bound_ms == pytest.approx(90 + 15)
    assert slow.lag_p95_even_bound_ms == pytest.approx(0.95 * 1000 / 10 + 15)


def test_sweep_bound_at_the_posts_goal_excludes_the_lag_goal() -> None:
    sweep = hand_made_sweep()

    # posts ≤ 0.1 × 102 frames → 10 frames → 8 posts for 96 chunks: 12 chunks (110 ms) per post
    assert sweep.at_posts_goal.frames == 10
    assert sweep.at_posts_goal.lag_p95_bound_ms == pytest.approx(110 + 15)
    assert not sweep.both_goals_possible
    # lag p95 ≤ 80 ms allows 65 ms of wait: 7 chunks per post, 14 posts for 96 chunks → 16 frames
    assert sweep.lag_goal_frames == 16
    shares = [point.share_of_baseline for point in sweep.curve]
    bounds = [point.lag_p95_bound_ms for point in sweep.curve]
    assert shares == sorted(shares) and bounds == sorted(bounds, reverse=True)

    verdict = report.tradeoff_verdict(sweep)
    assert "allows ≤ 10 frames" in verdict[0] and "125.0 ms" in verdict[0] and "no sender meets both" in verdict[0]
    assert "needs ≥ 16 frames" in verdict[1]
    table = report.tradeoff_table(sweep)
    assert "50 (default)" in table and "0.29 ✗" in table and "105.0" in table


def test_sweep_says_how_little_room_the_floor_leaves_when_both_goals_are_possible() -> None:
    # a baseline of 200 frames lets the posts goal keep 20: 18 posts, 6 chunks (50 ms) each → a floor of 65 ms
    sweep = hand_made_sweep(baseline_frames=200)

    assert sweep.at_posts_goal.frames == 20
    assert sweep.at_posts_goal.lag_p95_bound_ms == pytest.approx(65)
    assert sweep.both_goals_possible
    assert "possible only for a sender within 15.0 ms of this floor" in report.tradeoff_verdict(sweep)[0]


def test_curve_frames_spread_on_a_log_scale_without_repeats() -> None:
    frames = curve_frames(10, 160, points=5)
    assert frames == [10, 20, 40, 80, 160]
    assert curve_frames(3, 5, points=24) == [3, 4, 5]
    assert curve_frames(7, 7) == [7]


def first_token_run(latency: float, start: float, delta: float, **requests: int) -> FirstTokenRun:
    return FirstTokenRun(latency, start, delta, requests)


def test_first_token_summary_takes_medians_and_counts_control_polls_apart() -> None:
    # GIVEN three answers per DynamoDB latency, one of them overlapping a cancel/resume poll
    runs = [
        first_token_run(0, 10, 20, PutItem=3, GetItem=1),
        first_token_run(20, 60, 70, PutItem=3, GetItem=1),
        first_token_run(0, 12, 24, PutItem=3, GetItem=1, BatchGetItem=1),
        first_token_run(20, 66, 79, PutItem=3, GetItem=1),
        first_token_run(0, 11, 22, PutItem=4, GetItem=1),
        first_token_run(20, 62, 75, PutItem=4, GetItem=1, BatchGetItem=2),
    ]

    summary = summarize_first_token(runs, {}, 1.0)

    # THEN each latency gets the medians of its own answers
    low, high = summary.rows
    assert (low.ddb_latency_ms, low.runs, low.start_ms, low.first_delta_ms) == (0, 3, 11, 22)
    assert (high.start_ms, high.first_delta_ms) == (62, 75)
    # the polls stay out of the answer's requests, and each operation gets its own median
    assert low.requests == 4 and low.by_operation == {"GetItem": 1, "PutItem": 3}
    assert (low.control_polls, high.control_polls) == (0, 0)
    # 0 → 20 ms adds 53 ms to the first delta: 2.65 sequential round trips, over the 45 ms goal; 4 requests ≤ 7
    assert summary.added_ms == pytest.approx(53)
    assert summary.round_trips == pytest.approx(2.65)
    assert summary.checks() == {"dynamodb_requests_per_answer": True, "first_delta_added_by_ddb_latency": False}
    table = report.first_token_table(summary)
    assert "22.0 (23.4)" in table and "75.0 (152.7)" in table and "4 ✓ (11): GetItem 1, PutItem 3" in table
    assert "adds 53.0 ms to the first delta (≈ 2.6 sequential round trips) ✗" in report.first_token_verdict(summary)[0]


def test_first_token_summary_without_both_latencies_judges_requests_only() -> None:
    summary = summarize_first_token([first_token_run(0, 10, 20, PutItem=5, UpdateItem=3)], {"BatchGetItem": 1}, 1.0)

    assert summary.added_ms is None
    assert summary.checks() == {"dynamodb_requests_per_answer": False}
    assert "in 1 s with no answer: BatchGetItem 1" in report.first_token_verdict(summary)[-1]


@pytest.mark.slow
def test_quick_benchmark_delivers_every_answer_and_writes_its_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SIMULATED" in done.stdout
    assert f"wrote {tmp_path / 'results.json'}" in done.stdout

    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["machine"]["cores"] and results["machine"]["python"] and results["machine"]["cpu"]
    variants = {run["variant"] for run in results["runs"]}
    assert {"baseline", "engine"} <= variants
    [sweep] = results["tradeoff"]
    assert len(sweep["windows"]) >= 2 and sweep["curve"]
    assert all(window["lag_p95_bound_ms"] <= window["lag_p95_ms"] for window in sweep["windows"])
    for run in results["runs"]:
        assert run["complete"] and run["ordered"] and run["text_matches_plan"], run["problems"]
        assert run["missing_chunks"] == 0
        assert len(run["lags_ms"]) > 0
    wave = results["concurrency"]["waves"][0]
    assert wave["answers_correct"] == wave["clients"] == results["concurrency"]["clients"]
    assert results["gateway"]["crashed_invocations"] == {}
    assert results["cold_init"]["ours_ms"] and results["cold_init"]["bare_ms"]
    first_token = results["first_token"]
    assert [row["ddb_latency_ms"] for row in first_token["rows"]] == [0, 20]
    assert all(row["dynamodb_requests_per_answer_median"] > 0 for row in first_token["rows"])
    assert first_token["before"]["commit"] == "ca54855"
    assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")
    # Usage and cost: both designs measured the same way, the relay with fewer posts and more table work.
    designs = results["cost"]["designs"]
    relay, seed = designs["relay"], designs["seed 001 (per chunk)"]
    assert relay["usage"]["frames"] < seed["usage"]["frames"]
    assert relay["usage"]["dynamodb_requests"] > seed["usage"]["dynamodb_requests"] > 0
    assert set(relay["usage"]["lambda_invocations"]) == {"$authorizer", "$connect", "sendtext", "$disconnect"}
    assert relay["usage"]["dynamodb_write_units"] > 0 and relay["usage"]["moto_reported_capacity_units"] > 0
    assert relay["cost"]["total"] == pytest.approx(relay["cost"]["relay"] + relay["cost"]["model"], abs=1e-5)
    assert [row["users"] for row in relay["ceilings"]] == [10, 100, 1000, 10_000]
    assert "Usage per answer and cost of 1,000 answers" in done.stdout
