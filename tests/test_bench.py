"""The benchmark harness (bench/): its arithmetic on hand-made data, and `python -m bench --quick` end to end so the
harness cannot rot. These check correctness facts (every frame there, in order, the planned text), never speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.answers import Received, decode, is_terminal
from bench.metrics import ChunkEmit, SimRecord, chunk_lags, measure, percentile

REPO_ROOT = Path(__file__).resolve().parent.parent


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
    record = SimRecord(
        "sim-1",
        "hi",
        started_at=10.0,
        ended_at=10.3,
        outcome="completed",
        chunks_planned=2,
        emits=emits(2, 3, start=10.1),
    )
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
    for run in results["runs"]:
        assert run["complete"] and run["ordered"] and run["text_matches_plan"], run["problems"]
        assert run["missing_chunks"] == 0
        assert len(run["lags_ms"]) > 0
    wave = results["concurrency"]["waves"][0]
    assert wave["answers_correct"] == wave["clients"] == results["concurrency"]["clients"]
    assert results["gateway"]["crashed_invocations"] == {}
    assert results["cold_init"]["ours_ms"] and results["cold_init"]["bare_ms"]
    assert (tmp_path / "results.png").read_bytes().startswith(b"\x89PNG")
