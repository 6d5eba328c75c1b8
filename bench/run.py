"""Running the benchmark: the gateway, the WebSocket client, and each run — the side-by-side grid, the concurrency
waves, the first-token runs and cold init. Each run returns what it saw; `bench.measure` turns it into figures.

The gateway is localgw in a thread with the relay's real routes plus the baseline's, the real authorizer on
`$connect`, moto DynamoDB and the simulated model, on 127.0.0.1 and a free port. Clients run in the same process, so
client receive times and the simulator's emit times come from one clock (`time.monotonic()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from websockets.asyncio.client import ClientConnection, connect

from bench.capacity import DynamoMeter, moto_item_lookup
from bench.cost import AnswerUsage, message_units_of
from bench.measure import (
    Checked,
    FirstTokenRun,
    FirstTokenSummary,
    Received,
    RunMetrics,
    SimRecord,
    check,
    decode,
    is_terminal,
    lag_percentiles,
    median,
    percentile,
    rounded,
    summarize_first_token,
)
from bench.plan import BASELINE, ENGINE, BenchPlan, Cell, Concurrency, FirstToken, Protocol, Usage, Variant
from lambdas import config as relay_config
from lambdas import env_vars
from lambdas.routes import ROUTES, Route
from localgw import GatewayHandle, GatewayOptions, run_in_thread
from localgw.console import Console
from localgw.moto_server import RequestTap
from localgw.simulator import REQUESTS_PATH, ReplyPlan, SimConversation, plan_reply
from stacks.config import load_config

Progress = Callable[[str], None]

# The gateway.

# Streaming, like sendtext: it gets the streaming timeout (300 s), which the slow per-chunk loop needs at L=50 ms.
BASELINE_ROUTE = Route("bench_baseline", "BenchBaseline", "bench.baseline.handler", streaming=True)


class CapturedConsole(logging.Handler):
    """localgw's per-connection lines and crash tracebacks, kept off the report: the crashes are counted from the
    gateway's stats, and the first few are kept for results.json."""

    KEEP = 5

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR and len(self.errors) < self.KEEP:
            self.errors.append(record.getMessage()[:4000])


def start_gateway(captured: CapturedConsole) -> GatewayHandle:
    # The real authorizer stays on (each client mints its own user's token): the bench then runs the deployed path,
    # and per-user quotas (2 answers in flight) never throttle the 200 concurrent clients. Handler logs only from
    # ERROR up: under overload every answer would print warnings over the report; crashes are counted instead.
    options = GatewayOptions(host="127.0.0.1", port=0, routes=(*ROUTES, BASELINE_ROUTE), handler_log_level="ERROR")
    logger = logging.getLogger("bench.localgw")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(captured)
    return run_in_thread(options, console=Console(logger))


def dynamodb_tap(handle: GatewayHandle) -> RequestTap:
    """localgw's DynamoDB request tap: latency added to every request, and the requests counted per operation."""
    if handle.gateway.dynamodb is None:
        raise RuntimeError("localgw runs without its own DynamoDB: the first-token runs need its request tap")
    return handle.gateway.dynamodb.tap


async def wait_until_idle(handle: GatewayHandle, route_key: str, finished: int, timeout: float) -> float:
    """Wait until `finished` invocations of `route_key` have ended (answers of timed-out clients keep running until
    they notice the client is gone); returns the seconds waited."""
    started = time.monotonic()
    while handle.stats.invocations().get(route_key, 0) < finished and time.monotonic() - started < timeout:
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@contextlib.contextmanager
def coalesce_window(ms: int | None) -> Iterator[None]:
    """RELAY_COALESCE_MS = `ms` for the requests made inside (None: leave the configured default).

    Settings are read once per execution environment, so the cache is cleared on the way in and out. Only safe
    because the grid runs one request at a time; the concurrency wave never uses it.
    """
    if ms is None:
        yield
        return
    saved = os.environ.get(env_vars.COALESCE_MS)
    os.environ[env_vars.COALESCE_MS] = str(ms)
    relay_config.settings.cache_clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(env_vars.COALESCE_MS, None)
        else:
            os.environ[env_vars.COALESCE_MS] = saved
        relay_config.settings.cache_clear()


class SimulatorRecords:
    """The simulator's request log, through its documented endpoint (`GET|DELETE /_sim/requests`)."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self._url = f"{base_url}{REQUESTS_PATH}"
        self._session = session

    async def fetch(self, limit: int | None = None) -> list[SimRecord]:
        params = {"limit": str(limit)} if limit is not None else None
        async with self._session.get(self._url, params=params) as response:
            response.raise_for_status()
            body: dict[str, Any] = await response.json()
        return [SimRecord.from_json(record) for record in body["requests"]]

    async def clear(self) -> None:
        async with self._session.delete(self._url) as response:
            response.raise_for_status()

    async def finished_for(
        self, echoes: set[str], sent_after: float, timeout: float = 10.0, limit: int | None = None
    ) -> dict[str, SimRecord]:
        """The newest record per echoed user text (started after `sent_after`), once each has ended."""
        deadline = time.monotonic() + timeout
        while True:
            found: dict[str, SimRecord] = {}
            for record in await self.fetch(limit):
                if record.last_user_text in echoes and record.started_at >= sent_after:
                    found[record.last_user_text] = record  # oldest first: the newest wins
            if len(found) == len(echoes) and all(record.outcome != "running" for record in found.values()):
                return found
            if time.monotonic() >= deadline:
                return found
            await asyncio.sleep(0.05)


# The client: asks one question and timestamps every frame as it arrives.

OPEN_TIMEOUT_S = 30.0


async def open_socket(handle: GatewayHandle, user: str) -> ClientConnection:
    """A connection as `user` (a dev-issuer token when the gateway has an issuer)."""
    token = handle.dev_issuer.mint(user) if handle.dev_issuer else None
    target = f"{handle.ws_url}?token={token}" if token else handle.ws_url
    # No keepalive pings: they would be extra traffic inside the measurement, and no run idles long enough to need one.
    return await connect(target, open_timeout=OPEN_TIMEOUT_S, ping_interval=None, max_size=None)


@dataclass(slots=True)
class Exchange:
    """One request and the frames that came back, with client-side times."""

    sent_at: float = 0.0
    frames: list[Received] = field(default_factory=list)
    timed_out: bool = False


async def exchange(ws: ClientConnection, message: dict[str, Any], protocol: Protocol, timeout_s: float) -> Exchange:
    """Send `message` and collect frames until the answer's terminal frame (or `timeout_s`)."""
    result = Exchange()
    payload = json.dumps(message)
    deadline = time.monotonic() + timeout_s
    result.sent_at = time.monotonic()
    await ws.send(payload)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            result.timed_out = True
            return result
        try:
            data = await asyncio.wait_for(ws.recv(), remaining)
        except TimeoutError:
            result.timed_out = True
            return result
        received_at = time.monotonic()
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        result.frames.append(Received(received_at, text))
        if is_terminal(protocol, text):
            return result


def question(label: str, tokens: int, rate: float, ttft_ms: float) -> str:
    return f"benchmark {label} [[sim tokens={tokens} rate={rate:g} ttft={ttft_ms:g}]]"


def expected_reply(text: str) -> ReplyPlan:
    return plan_reply(SimConversation.of(("user", text)))


def message_for(variant: Variant, text: str, request_id: str) -> dict[str, Any]:
    if variant.protocol == "baseline":
        return {"action": variant.action, "text": text}
    return {"action": variant.action, "text": text, "requestId": request_id}


GRID_USER = "bench-grid"


async def warm_up(handle: GatewayHandle, variants: list[Variant], timeout_s: float) -> None:
    """One short answer per route before anything is timed: imports, clients and pools are created here, like a
    Lambda execution environment's first invocation, so no measured run pays for them."""
    text = "benchmark warm-up [[sim tokens=20 rate=inf ttft=0]]"
    for variant in {variant.action: variant for variant in variants}.values():
        ws = await open_socket(handle, GRID_USER)
        try:
            result = await exchange(ws, message_for(variant, text, "warm-up"), variant.protocol, timeout_s)
        finally:
            await ws.close()
        answer = decode(variant.protocol, result.sent_at, result.frames)
        if result.timed_out or answer.problems or answer.text != expected_reply(text).text:
            raise RuntimeError(f"warm-up of {variant.action!r} failed: {answer.problems or 'timeout or wrong text'}")


# The grid: every variant in every (rate, latency) cell, one request at a time, repeated. Within a repeat the variants
# of a cell run back to back, in an order rotated every repeat, so drift on a shared machine spreads over all of them.
# Every variant of a (cell, repeat) asks the same question, so the simulated model writes the very same answer at the
# very same pace for each.


@dataclass(slots=True)
class GridRun:
    cell: Cell
    variant: Variant
    repeat: int
    order: int
    """Position in the whole run (0-based): shows interleaving in the JSON."""
    checked: Checked

    @property
    def metrics(self) -> RunMetrics | None:
        return self.checked.metrics

    @property
    def ok(self) -> bool:
        return self.checked.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell.label,
            "rate": self.cell.rate,
            "latency_ms": self.cell.latency_ms,
            "variant": self.variant.name,
            "repeat": self.repeat,
            "order": self.order,
            **self.checked.to_json(),
            **(self.metrics.to_json() if self.metrics else {}),
        }


async def run_grid(
    plan: BenchPlan, handle: GatewayHandle, records: SimulatorRecords, progress: Progress
) -> list[GridRun]:
    runs: list[GridRun] = []
    for repeat in range(plan.repeat):
        for cell_index, cell in enumerate(plan.cells):
            shift = repeat % len(cell.variants)
            text = question(f"{cell.label} repeat {repeat}", plan.tokens, cell.rate, plan.ttft_ms)
            for variant in cell.variants[shift:] + cell.variants[:shift]:
                if repeat >= plan.repeats_of(variant):
                    continue
                request_id = f"grid-{cell_index}-{repeat}-{cell.variants.index(variant)}"
                checked = await _grid_answer(plan, handle, records, cell, variant, text, request_id)
                runs.append(GridRun(cell, variant, repeat, len(runs), checked))
                progress(f"[{len(runs):>2}/{plan.runs}] {cell.label:<14} repeat {repeat + 1}  {_brief(runs[-1])}")
    handle.faults.latency_ms = 0
    return runs


async def _grid_answer(
    plan: BenchPlan,
    handle: GatewayHandle,
    records: SimulatorRecords,
    cell: Cell,
    variant: Variant,
    text: str,
    request_id: str,
) -> Checked:
    reply = expected_reply(text)
    handle.faults.latency_ms = cell.latency_ms
    with coalesce_window(variant.coalesce_ms):
        ws = await open_socket(handle, GRID_USER)
        try:
            result = await exchange(ws, message_for(variant, text, request_id), variant.protocol, plan.answer_timeout_s)
        finally:
            await ws.close()
    relay = variant.protocol == "relay"
    answer = decode(variant.protocol, result.sent_at, result.frames, request_id if relay else None)
    found = await records.finished_for({reply.last_user_text}, result.sent_at, limit=20)
    timed_out = plan.answer_timeout_s if result.timed_out else None
    return check(answer, reply.text, reply.output_tokens, found.get(reply.last_user_text), cell.latency_ms, timed_out)


def _brief(run: GridRun) -> str:
    head = f"{run.variant.name:<12}"
    if run.metrics is None:
        return f"{head} FAILED: {'; '.join(run.checked.problems)}"
    m = run.metrics
    status = "ok" if run.ok else "PROBLEMS: " + "; ".join(run.checked.problems)
    return (
        f"{head} {m.completion_s or 0:6.2f} s  ratio {m.completion_ratio or 0:5.2f}  {m.frames:>4} frames  "
        f"lag p95 {percentile(m.lags_ms, 95):7.0f} ms  {status}"
    )


# Many clients at once through the real relay. Each client is its own user, as real users would be: the per-user
# quota of 2 answers in flight then never refuses anyone. All sockets are opened first; then every client sends its
# question at the same moment (one wave), and the wave is repeated on the same sockets.

IDLE_TIMEOUT_S = 45.0
"""Longest wait for a broken wave's answers to end (gone grace 10 s, plus whatever they were blocked on)."""
CLIENT_METRICS = ("completion_ratio", "frames", "first_delta_ms", "simulator_drift_ms", "lags_ms")
"""The per-run metrics results.json keeps per concurrent client."""


@dataclass(slots=True)
class ClientResult:
    index: int
    checked: Checked

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"client": self.index, **self.checked.to_json()}
        if self.checked.metrics is not None:
            metrics = self.checked.metrics.to_json()
            data.update({key: metrics[key] for key in CLIENT_METRICS})
        return data


@dataclass(slots=True)
class Wave:
    number: int
    wall_s: float
    clients: list[ClientResult] = field(default_factory=list)

    @property
    def lags_ms(self) -> list[float]:
        return [lag for client in self.clients if client.checked.metrics for lag in client.checked.metrics.lags_ms]

    @property
    def delivered(self) -> int:
        return sum(client.checked.ok for client in self.clients)

    def summary(self) -> dict[str, Any]:
        checked = [client.checked for client in self.clients]
        measured = [c.metrics for c in checked if c.metrics is not None]
        ratios = [m.completion_ratio for m in measured if m.completion_ratio is not None]
        firsts = [m.first_delta_ms for m in measured if m.first_delta_ms is not None]
        drifts = [m.simulator_drift_ms for m in measured if m.simulator_drift_ms is not None]
        return {
            "wave": self.number,
            "clients": len(self.clients),
            "answers_correct": self.delivered,
            "complete": sum(c.answer.complete for c in checked),
            "ordered": sum(c.answer.ordered for c in checked),
            "text_matches_plan": sum(c.text_ok for c in checked),
            "wall_s": round(self.wall_s, 3),
            "lag_ms": lag_percentiles(self.lags_ms, 1),
            "completion_ratio": {"median": rounded(median(ratios), 4), "max": rounded(max(ratios, default=None), 4)},
            "frames_per_answer_median": rounded(median(m.frames for m in measured), 1),
            "first_delta_ms": {"p50": rounded(percentile(firsts, 50), 1), "p95": rounded(percentile(firsts, 95), 1)},
            "simulator_drift_ms_max": rounded(max(drifts, default=None), 1),
            "problems": sorted({p for c in checked for p in c.problems})[:20],
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
    gate = asyncio.Semaphore(setup.connect_parallelism)

    async def open_one(index: int) -> ClientConnection:
        async with gate:
            return await open_socket(handle, f"bench-{index}")

    sockets = list(await asyncio.gather(*(open_one(index) for index in range(setup.clients))))
    connect_s = time.monotonic() - started
    progress(f"{setup.clients} clients connected in {connect_s:.1f} s (real authorizer + $connect for each)")
    waves: list[Wave] = []
    try:
        for number in range(1, setup.waves + 1):
            wave = await _wave(setup, handle, records, sockets, number)
            waves.append(wave)
            lag = wave.summary()["lag_ms"]
            progress(
                f"wave {number}: {wave.delivered}/{setup.clients} answers complete, ordered and exact in "
                f"{wave.wall_s:.1f} s; lag p50 {lag['p50']} ms, p95 {lag['p95']} ms, max {lag['max']} ms"
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


async def _wave(
    setup: Concurrency, handle: GatewayHandle, records: SimulatorRecords, sockets: list[ClientConnection], number: int
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
            exchange(ws, message_for(ENGINE, text, request_id), "relay", setup.answer_timeout_s)
            for ws, text, request_id in zip(sockets, texts, request_ids, strict=True)
        )
    )
    wave = Wave(number, time.monotonic() - started)
    found = await records.finished_for({reply.last_user_text for reply in replies}, started)
    for index, (result, reply, request_id) in enumerate(zip(exchanges, replies, request_ids, strict=True)):
        answer = decode("relay", result.sent_at, result.frames, request_id)
        record = found.get(reply.last_user_text)
        timed_out = setup.answer_timeout_s if result.timed_out else None
        checked = check(answer, reply.text, reply.output_tokens, record, setup.latency_ms, timed_out)
        wave.clients.append(ClientResult(index, checked))
    return wave


# First token: `sendtext` sent → `start` and → first `delta`, with the simulator's first token at 0 ms, one answer at
# a time, each DynamoDB latency in turn; localgw's tap counts the DynamoDB requests each answer makes.

FIRST_TOKEN_USER = "bench-first-token"
FIRST_TOKEN_WARM_UPS = 2
IDLE_WINDOW_S = 1.0
"""A window with no answer at the end: any DynamoDB request in it is background traffic, no answer's."""


async def run_first_token(
    setup: FirstToken, handle: GatewayHandle, progress: Progress, timeout_s: float
) -> FirstTokenSummary:
    tap = dynamodb_tap(handle)
    for n in range(FIRST_TOKEN_WARM_UPS):  # this route's imports, clients and pools, at no added latency
        await _first_token_answer(handle, tap, f"warm-up {n}", timeout_s)
    runs: list[FirstTokenRun] = []
    try:
        for index in range(setup.repeat):
            for latency in setup.ddb_latencies_ms:  # interleaved, so drift on a shared machine hits every latency alike
                tap.latency_ms = latency
                runs.append(await _first_token_answer(handle, tap, str(index), timeout_s))
    finally:
        tap.latency_ms = 0
    before = Counter(tap.counts)
    await asyncio.sleep(IDLE_WINDOW_S)
    idle = {op: n for op, n in (Counter(tap.counts) - before).items() if n}
    summary = summarize_first_token(runs, idle, IDLE_WINDOW_S)
    for row in summary.rows:
        progress(
            f"first token at DynamoDB +{row.ddb_latency_ms:g} ms: start {row.start_ms:.1f} ms, first delta "
            f"{row.first_delta_ms:.1f} ms, {row.requests:g} DynamoDB requests per answer (median of {row.runs})"
        )
    return summary


async def _first_token_answer(handle: GatewayHandle, tap: RequestTap, label: str, timeout_s: float) -> FirstTokenRun:
    text = question(f"first token {label}", 20, 100_000, 0)
    request_id = f"first-token-{label.replace(' ', '-')}-{time.monotonic_ns():x}"
    ws = await open_socket(handle, FIRST_TOKEN_USER)
    try:
        finished = handle.stats.invocations().get("sendtext", 0) + 1
        before = Counter(tap.counts)
        result = await exchange(ws, message_for(ENGINE, text, request_id), "relay", timeout_s)
        await wait_until_idle(handle, "sendtext", finished, timeout_s)
        # The answer's last writes (its frames, quota settlement) happen after its done frame: wait for them.
        await asyncio.sleep(0.05 + 4 * tap.latency_ms / 1000)
        requests = dict(Counter(tap.counts) - before)  # before the close: $disconnect's requests are no answer's
    finally:
        await ws.close()
    # ... nor the next answer's, nor the idle window's: wait for this socket's $disconnect to end.
    await wait_until_idle(handle, "$disconnect", handle.stats.invocations().get("$connect", 0), timeout_s)
    answer = decode("relay", result.sent_at, result.frames, request_id)
    if result.timed_out or answer.problems or answer.text != expected_reply(text).text:
        raise RuntimeError(f"first-token answer {label!r} failed: {answer.problems or 'timeout or wrong text'}")
    assert answer.start_at is not None and answer.first_text_at is not None
    return FirstTokenRun(
        tap.latency_ms,
        (answer.start_at - answer.sent_at) * 1000,
        (answer.first_text_at - answer.sent_at) * 1000,
        requests,
    )


# Usage: one answer at a time, each on a connection of its own (open, ask, close), for the relay and for seed 001's
# per-chunk baseline; everything the gateway, the handlers and DynamoDB did from the open to the end of $disconnect
# is that answer's. bench.cost turns it into dollars and ceilings.

USAGE_USER = "bench-usage"
INPUT_TOKENS = 100
"""The question's input tokens, as the model would bill them (a short question; the simulator's are not real)."""


def memory_by_route(routes: list[Route]) -> dict[str, int]:
    """Each function's memory as the stack deploys it (cdk.json's context)."""
    config = load_config()
    memory = {
        route.key: config.send_text_memory_mb if route.streaming else config.function_memory_mb for route in routes
    }
    return {**memory, "$authorizer": config.function_memory_mb}


async def run_usage(setup: Usage, handle: GatewayHandle, progress: Progress, timeout_s: float) -> list[AnswerUsage]:
    tap = dynamodb_tap(handle)
    meter = DynamoMeter(moto_item_lookup)
    tap.observers.append(meter)
    tap.return_consumed_capacity = True
    handle.faults.latency_ms = setup.latency_ms
    memory = memory_by_route([*ROUTES, BASELINE_ROUTE])
    usages: list[AnswerUsage] = []
    try:
        for repeat in range(setup.repeat):
            for variant in (BASELINE, ENGINE):
                text = question(f"usage {variant.name} {repeat}", setup.tokens, setup.rate, 400)
                usage = await _usage_answer(handle, meter, variant, text, memory, timeout_s)
                usages.append(usage)
                progress(
                    f"usage {variant.name:<8} {usage.frames:>4} posts, {usage.message_units} messages, "
                    f"{usage.dynamodb_requests} DynamoDB requests ({usage.dynamodb_read_units:g} RRU, "
                    f"{usage.dynamodb_write_units:g} WRU), {usage.gb_seconds:.2f} GB-s"
                )
    finally:
        tap.observers.remove(meter)
        tap.return_consumed_capacity = False
        handle.faults.latency_ms = 0
    return usages


async def _usage_answer(
    handle: GatewayHandle,
    meter: DynamoMeter,
    variant: Variant,
    text: str,
    memory: dict[str, int],
    timeout_s: float,
) -> AnswerUsage:
    stats = handle.stats
    request_id = f"usage-{time.monotonic_ns():x}"
    invocations, durations, dynamo = stats.invocations(), stats.durations_ms(), meter.snapshot()
    posted = _posted(handle)
    opened = time.monotonic()
    ws = await open_socket(handle, USAGE_USER)
    try:
        result = await exchange(ws, message_for(variant, text, request_id), variant.protocol, timeout_s)
        # The answer's last writes (frames, quota settlement) come after its terminal frame.
        await wait_until_idle(handle, variant.action, invocations.get(variant.action, 0) + 1, timeout_s)
    finally:
        await ws.close()
    connection_s = time.monotonic() - opened
    await wait_until_idle(handle, "$disconnect", invocations.get("$disconnect", 0) + 1, timeout_s)
    answer = decode(
        variant.protocol, result.sent_at, result.frames, request_id if variant.protocol == "relay" else None
    )
    reply = expected_reply(text)
    if result.timed_out or answer.problems or answer.text != reply.text:
        raise RuntimeError(f"usage answer of {variant.name!r} failed: {answer.problems or 'timeout or wrong text'}")
    assert answer.terminal_at is not None
    frames, frame_bytes = (now - before for now, before in zip(_posted(handle), posted, strict=True))
    spent = {key: ms - durations.get(key, 0.0) for key, ms in stats.durations_ms().items()}
    called = {key: n - invocations.get(key, 0) for key, n in stats.invocations().items()}
    dynamodb = meter.snapshot().minus(dynamo)
    answer_s = answer.terminal_at - answer.sent_at
    return AnswerUsage(
        design="relay" if variant.protocol == "relay" else "seed 001 (per chunk)",
        output_tokens=reply.output_tokens,
        input_tokens=INPUT_TOKENS,
        client_messages=1,
        frames=frames,
        frame_bytes=frame_bytes,
        message_units=message_units_of([len(frame.data.encode("utf-8")) for frame in result.frames]),
        connection_s=round(connection_s, 3),
        lambda_ms={key: round(ms, 1) for key, ms in spent.items() if called.get(key)},
        lambda_invocations={key: n for key, n in called.items() if n},
        lambda_memory_mb={key: memory[key] for key, n in called.items() if n},
        dynamodb_read_units=dynamodb.read_units,
        dynamodb_write_units=dynamodb.write_units,
        dynamodb_requests=sum(dynamodb.requests.values()),
        answer_s=round(answer_s, 3),
        control_reads_per_s=round(dynamodb.requests.get("BatchGetItem", 0) / answer_s, 2) if answer_s else 0.0,
        dynamodb_by_operation=dict(dynamodb.requests),
        moto_reported_capacity_units=round(dynamodb.reported_units, 2),
    )


def _posted(handle: GatewayHandle) -> tuple[int, int]:
    """(frames, bytes) every connection has been posted so far."""
    tallies = handle.stats.all_posts().values()
    return sum(t.frames for t in tallies), sum(t.bytes for t in tallies)


# Cold init: what the relay's handler costs a fresh interpreter before its first answer, against bare boto3.
# ours = `import lambdas.handlers.sendtext` + the three clients the handler creates on its first call (model,
# @connections, DynamoDB); bare = `import boto3` + the same three clients with plain `boto3.client()`. Each side runs
# in its own fresh interpreter, alternating, with a clean environment (dummy credentials, region us-east-1, no
# endpoint overrides, metadata service off): creating clients never touches the network. The timed part is measured
# inside the child (perf_counter around imports and clients); the child's whole life (interpreter start-up included)
# is recorded too.

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS_URL = "https://abcdefghij.execute-api.us-east-1.amazonaws.com/dev"
_PRELUDE = "import json, time\n_t0 = time.perf_counter()\n"
_REPORT = "print(json.dumps({'ms': (time.perf_counter() - _t0) * 1000}))\n"
OURS = (
    _PRELUDE
    + "import lambdas.handlers.sendtext\n"
    + "from lambdas import clients\n"
    + "clients.bedrock_runtime()\n"
    + f"clients.connections({CONNECTIONS_URL!r})\n"
    + "clients.dynamodb()\n"
    + _REPORT
)
BARE = (
    _PRELUDE
    + "import boto3\n"
    + "boto3.client('bedrock-runtime')\n"
    + f"boto3.client('apigatewaymanagementapi', endpoint_url={CONNECTIONS_URL!r})\n"
    + "boto3.client('dynamodb')\n"
    + _REPORT
)


@dataclass(frozen=True, slots=True)
class ColdInit:
    ours_ms: list[float]
    bare_ms: list[float]
    ours_process_ms: list[float]
    bare_process_ms: list[float]

    @property
    def ratio(self) -> float:
        return median(self.ours_ms) / median(self.bare_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "what": "median of fresh interpreters; ms = imports + 3 clients timed inside the child",
            "ours_median_ms": round(median(self.ours_ms), 1),
            "bare_median_ms": round(median(self.bare_ms), 1),
            "ratio": round(self.ratio, 3),
            "ours_min_ms": round(min(self.ours_ms), 1),
            "bare_min_ms": round(min(self.bare_ms), 1),
            "ratio_of_minimums": round(min(self.ours_ms) / min(self.bare_ms), 3),
            "ours_ms": [round(v, 1) for v in self.ours_ms],
            "bare_ms": [round(v, 1) for v in self.bare_ms],
            "ours_process_ms": [round(v, 1) for v in self.ours_process_ms],
            "bare_process_ms": [round(v, 1) for v in self.bare_process_ms],
        }


def _clean_environment(home: str) -> dict[str, str]:
    # Nothing inherited: no endpoint overrides from a running localgw, no real credentials, no ~/.aws files.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "PYTHONPATH": str(REPO_ROOT),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _child(script: str, env: dict[str, str]) -> tuple[float, float]:
    """(ms timed inside the child, ms of the child's whole life)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    process_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"cold-init child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["ms"]), process_ms


def run_cold_init(runs: int, progress: Progress) -> ColdInit:
    ours: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        env = _clean_environment(home)
        if runs > 1:
            # One untimed run each first: byte-code caches and the page cache are then warm for both sides alike.
            _child(OURS, env)
            _child(BARE, env)
        for index in range(runs):
            ours.append(_child(OURS, env))
            bare.append(_child(BARE, env))
            progress(f"cold init {index + 1}/{runs}: ours {ours[-1][0]:.0f} ms, bare boto3 {bare[-1][0]:.0f} ms")
    return ColdInit(
        ours_ms=[timed for timed, _ in ours],
        bare_ms=[timed for timed, _ in bare],
        ours_process_ms=[whole for _, whole in ours],
        bare_process_ms=[whole for _, whole in bare],
    )


# Everything that needs the gateway, in order.


@dataclass(slots=True)
class LiveResults:
    runs: list[GridRun]
    concurrency: ConcurrencyResult | None
    first_token: FirstTokenSummary | None
    usage: list[AnswerUsage] = field(default_factory=list)


async def run_live(plan: BenchPlan, handle: GatewayHandle, progress: Progress) -> LiveResults:
    """Warm-up, first token, the concurrency waves, then the grid.

    First token and concurrency come before the grid: every answer leaves items in moto's table, and moto slows down
    as the table grows, so a wave after the grid would measure moto's slowdown more than the relay."""
    async with aiohttp.ClientSession(trust_env=False) as session:  # 127.0.0.1 only: never through a proxy
        records = SimulatorRecords(handle.url, session)
        variants = [variant for cell in plan.cells for variant in cell.variants]
        await warm_up(handle, variants or [ENGINE], plan.answer_timeout_s)
        progress("gateway warm (one untimed answer per route)")
        first_token = None
        if plan.first_token is not None:
            setup = plan.first_token
            latencies = ", ".join(f"{ms:g}" for ms in setup.ddb_latencies_ms)
            progress(f"first token: {setup.repeat} answers per DynamoDB latency ({latencies} ms), first token at 0 ms")
            first_token = await run_first_token(setup, handle, progress, plan.answer_timeout_s)
        usage: list[AnswerUsage] = []
        if plan.usage is not None:
            setup_u = plan.usage
            progress(
                f"usage: {setup_u.repeat} answer(s) per design, {setup_u.tokens} tokens, R={setup_u.rate:g} "
                f"L={setup_u.latency_ms:g}ms, each on its own connection"
            )
            usage = await run_usage(setup_u, handle, progress, plan.answer_timeout_s)
        concurrency = None
        if plan.concurrency is not None:
            setup_c = plan.concurrency
            progress(
                f"concurrency: {setup_c.clients} clients × up to {setup_c.waves} wave(s), {setup_c.tokens}-token "
                f"answers, R={setup_c.rate:g} L={setup_c.latency_ms:g}ms"
            )
            concurrency = await run_concurrency(setup_c, handle, records, progress)
        await records.clear()
        runs = await run_grid(plan, handle, records, progress)
    return LiveResults(runs, concurrency, first_token, usage)
