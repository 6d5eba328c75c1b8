"""The gateway the benchmark runs against: localgw with the relay's real routes plus the baseline's, the real
authorizer on `$connect`, moto DynamoDB (quotas) and the simulated model, on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import aiohttp

from bench.metrics import SimRecord
from lambdas import config as relay_config
from lambdas.routes import ROUTES, Route
from localgw import GatewayHandle, GatewayOptions, run_in_thread
from localgw.console import Console
from localgw.simulator import REQUESTS_PATH

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
    saved = os.environ.get(relay_config.ENV_COALESCE_MS)
    os.environ[relay_config.ENV_COALESCE_MS] = str(ms)
    relay_config.settings.cache_clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(relay_config.ENV_COALESCE_MS, None)
        else:
            os.environ[relay_config.ENV_COALESCE_MS] = saved
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
