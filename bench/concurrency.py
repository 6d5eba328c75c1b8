"""Many clients at once through the real relay: is every frame delivered, in order, with the planned text?

Each client is its own user (a dev-issuer token for `bench-{i}`), as real users would be: the per-user quota of 2
answers in flight then never refuses anyone. All sockets are opened first; then every client sends its question at
the same moment (one wave), and the wave is repeated on the same sockets.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection

from bench.answers import decode
from bench.client import exchange, open_socket
from bench.gateway import SimulatorRecords, wait_until_idle
from bench.grid import Progress, expected_reply, question, relay_message
from bench.metrics import RunMetrics, measure, median, percentile
from bench.plan import Concurrency
from localgw import GatewayHandle

IDLE_TIMEOUT_S = 45.0
"""Longest wait for a broken wave's answers to end (gone grace 10 s, plus whatever they were blocked on)."""


@dataclass(slots=True)
class ClientResult:
    index: int
    complete: bool
    ordered: bool
    text_ok: bool
    metrics: RunMetrics | None
    problems: list[str]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client": self.index,
            "complete": self.complete,
            "ordered": self.ordered,
            "text_matches_plan": self.text_ok,
            "problems": self.problems,
        }
        if self.metrics is not None:
            m = self.metrics
            data.update(
                completion_ratio=None if m.completion_ratio is None else round(m.completion_ratio, 4),
                frames=m.frames,
                first_delta_ms=None if m.first_delta_ms is None else round(m.first_delta_ms, 2),
                simulator_drift_ms=None if m.simulator_drift_ms is None else round(m.simulator_drift_ms, 2),
                lags_ms=[round(lag, 2) for lag in m.lags_ms],
            )
        return data


@dataclass(slots=True)
class Wave:
    number: int
    wall_s: float
    clients: list[ClientResult] = field(default_factory=list)

    @property
    def lags_ms(self) -> list[float]:
        return [lag for client in self.clients if client.metrics for lag in client.metrics.lags_ms]

    @property
    def delivered(self) -> int:
        return sum(c.complete and c.ordered and c.text_ok and not c.problems for c in self.clients)

    def summary(self) -> dict[str, Any]:
        measured = [c.metrics for c in self.clients if c.metrics is not None]
        ratios = [m.completion_ratio for m in measured if m.completion_ratio is not None]
        firsts = [m.first_delta_ms for m in measured if m.first_delta_ms is not None]
        lags = self.lags_ms
        drifts = [m.simulator_drift_ms for m in measured if m.simulator_drift_ms is not None]
        return {
            "wave": self.number,
            "clients": len(self.clients),
            "answers_correct": self.delivered,
            "complete": sum(c.complete for c in self.clients),
            "ordered": sum(c.ordered for c in self.clients),
            "text_matches_plan": sum(c.text_ok for c in self.clients),
            "wall_s": round(self.wall_s, 3),
            "lag_ms": {
                "p50": _r(percentile(lags, 50)),
                "p95": _r(percentile(lags, 95)),
                "max": _r(max(lags, default=math.nan)),
            },
            "completion_ratio": {"median": _r(median(ratios), 4), "max": _r(max(ratios, default=math.nan), 4)},
            "frames_per_answer_median": _r(median(m.frames for m in measured)),
            "first_delta_ms": {"p50": _r(percentile(firsts, 50)), "p95": _r(percentile(firsts, 95))},
            "simulator_drift_ms_max": _r(max(drifts, default=math.nan)),
            "problems": sorted({p for c in self.clients for p in c.problems})[:20],
        }


@dataclass(slots=True)
class ConcurrencyResult:
    setup: Concurrency
    connect_s: float
    waves: list[Wave]

    def to_json(self) -> dict[str, Any]:
        return {
            "clients": self.setup.clients,
            "tokens": self.setup.tokens,
            "rate": self.setup.rate,
            "latency_ms": self.setup.latency_ms,
            "ttft_ms": self.setup.ttft_ms,
            "connect_all_s": round(self.connect_s, 3),
            "waves": [{**wave.summary(), "per_client": [c.to_json() for c in wave.clients]} for wave in self.waves],
        }


async def run_concurrency(
    setup: Concurrency, handle: GatewayHandle, records: SimulatorRecords, progress: Progress
) -> ConcurrencyResult:
    handle.faults.latency_ms = setup.latency_ms
    answers_before = handle.stats.invocations().get("sendtext", 0)
    started = time.monotonic()
    sockets = await _open_all(setup, handle)
    connect_s = time.monotonic() - started
    progress(f"{setup.clients} clients connected in {connect_s:.1f} s (real authorizer + $connect for each)")
    waves: list[Wave] = []
    try:
        for number in range(1, setup.waves + 1):
            wave = await _wave(setup, handle, records, sockets, number, setup.answer_timeout_s)
            waves.append(wave)
            summary = wave.summary()
            progress(
                f"wave {number}: {summary['answers_correct']}/{setup.clients} answers complete, ordered and exact in "
                f"{wave.wall_s:.1f} s; lag p50 {summary['lag_ms']['p50']} ms, p95 {summary['lag_ms']['p95']} ms, "
                f"max {summary['lag_ms']['max']} ms"
            )
            if wave.delivered < setup.clients and number < setup.waves:
                progress(f"wave {number} was not delivered in full: the remaining wave(s) are skipped")
                break
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    # Answers whose client gave up keep running until they see it gone: nothing measured later may share the CPU.
    waited = await wait_until_idle(handle, "sendtext", answers_before + setup.clients * len(waves), IDLE_TIMEOUT_S)
    if waited > 1:
        progress(f"waited {waited:.0f} s for the wave's last invocations to end before going on")
    handle.faults.latency_ms = 0
    return ConcurrencyResult(setup, connect_s, waves)


async def _open_all(setup: Concurrency, handle: GatewayHandle) -> list[ClientConnection]:
    gate = asyncio.Semaphore(setup.connect_parallelism)

    async def open_one(index: int) -> ClientConnection:
        async with gate:
            token = handle.dev_issuer.mint(f"bench-{index}") if handle.dev_issuer else None
            return await open_socket(handle.ws_url, token)

    return list(await asyncio.gather(*(open_one(index) for index in range(setup.clients))))


async def _wave(
    setup: Concurrency,
    handle: GatewayHandle,
    records: SimulatorRecords,
    sockets: list[ClientConnection],
    number: int,
    timeout_s: float,
) -> Wave:
    await records.clear()
    texts = [
        question(f"concurrent client {i} wave {number}", setup.tokens, setup.rate, setup.ttft_ms)
        for i in range(setup.clients)
    ]
    replies = [expected_reply(text) for text in texts]
    # requestIds must be unique for the table's lifetime (the relay refuses a reused one): the tag keeps them so when a
    # process runs several waves or several benchmarks against one moto.
    tag = f"{time.monotonic_ns():x}"
    request_ids = [f"wave{number}-{tag}-client{i}" for i in range(setup.clients)]
    started = time.monotonic()
    exchanges = await asyncio.gather(
        *(
            exchange(ws, relay_message(text, request_id), "relay", timeout_s)
            for ws, text, request_id in zip(sockets, texts, request_ids, strict=True)
        )
    )
    wall = time.monotonic() - started
    found = await records.finished_for({reply.last_user_text for reply in replies}, started)
    wave = Wave(number, wall)
    for index, (result, reply, request_id) in enumerate(zip(exchanges, replies, request_ids, strict=True)):
        answer = decode("relay", result.sent_at, result.frames, request_id)
        problems = list(answer.problems)
        if result.timed_out:
            problems.append("timeout: no terminal frame")
        record = found.get(reply.last_user_text)
        metrics = None
        if record is None:
            problems.append("simulator: no finished record")
        else:
            metrics = measure(answer, record, reply.output_tokens, setup.latency_ms)
        text_ok = answer.text == reply.text
        if not text_ok:
            problems.append("text: differs from the simulator's plan")
        wave.clients.append(ClientResult(index, answer.complete, answer.ordered, text_ok, metrics, problems))
    return wave


def _r(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)
