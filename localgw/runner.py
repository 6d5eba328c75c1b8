"""Run a LocalGateway on its own event loop in a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from localgw.console import Console
from localgw.faults import PostFaults
from localgw.gateway import LocalGateway
from localgw.options import GatewayOptions
from localgw.stats import GatewayStats
from stacks.config import RelayConfig

T = TypeVar("T")

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0


class GatewayHandle:
    """A started gateway running in a background thread. Use as a context manager, or call `stop()`."""

    def __init__(self, gateway: LocalGateway, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        self.gateway = gateway
        self._loop = loop
        self._thread = thread
        self.url: str = gateway.url
        """`http://HOST:PORT` (the simulated upstream's endpoint)."""
        self.ws_url: str = gateway.ws_url
        """`ws://HOST:PORT/{stage}`: connect WebSocket clients here."""
        self.connections_url: str = gateway.connections_url
        """`http://HOST:PORT/{stage}`: `endpoint_url` for boto3's apigatewaymanagementapi client."""
        self.stage: str = gateway.stage
        self.region: str = gateway.region
        self.openai_base_url: str | None = gateway.openai_base_url
        """`http://HOST:PORT/{stage}/v1`: the OpenAI-compatible channel's base URL (for OpenAI SDKs)."""

    @property
    def faults(self) -> PostFaults:
        """Runtime-adjustable fault injection on @connections POST (`latency_ms`, `throttle_rate`, `reseed()`)."""
        return self.gateway.faults

    @property
    def dev_issuer(self) -> Any | None:
        """The local JWT issuer (`dev_issuer.mint("alice")` → a token the real authorizer accepts), when mounted."""
        return self.gateway.dev_issuer

    @property
    def stats(self) -> GatewayStats:
        """Thread-safe counters: `stats.posts(connection_id)`, `stats.invocations()`, ..."""
        return self.gateway.stats

    def call(self, function: Callable[[], T], timeout: float = 10.0) -> T:
        """Run a plain function on the gateway's loop (the registry and connections live there)."""

        async def run() -> T:
            return function()

        return self.run(run(), timeout)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the gateway's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self.run(self.gateway.stop(), STOP_TIMEOUT_SECONDS)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT_SECONDS)

    def __enter__(self) -> GatewayHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_in_thread(
    options: GatewayOptions | None = None,
    *,
    config: RelayConfig | None = None,
    console: Console | None = None,
) -> GatewayHandle:
    """Start a gateway in a daemon thread and return once it accepts connections (raises what start() raised)."""
    gateway = LocalGateway(options, config=config, console=console)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(gateway.start())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
            started.set()
            loop.close()
            return
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=serve, name=f"localgw-{gateway.stage}", daemon=True)
    thread.start()
    if not started.wait(START_TIMEOUT_SECONDS):
        raise TimeoutError(f"localgw did not start within {START_TIMEOUT_SECONDS:g} s")
    if failure:
        raise failure[0]
    return GatewayHandle(gateway, loop, thread)
