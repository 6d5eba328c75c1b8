"""An aiohttp application served from a daemon thread with its own event loop: the simulator and moto's DynamoDB."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from aiohttp import web

START_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")


class BackgroundServer:
    """`with BackgroundServer(app) as server: ... server.url`: serves `app` on `host:port` (port 0: a free one)."""

    def __init__(
        self,
        app: web.Application,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        name: str = "localgw-background",
        handler_cancellation: bool = True,
    ) -> None:
        self.app = app
        self._host, self._port = host, port
        self._handler_cancellation = handler_cancellation
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=START_TIMEOUT_SECONDS)
        return self

    async def _start(self) -> None:
        # handler_cancellation: aiohttp cancels a handler whose client disconnected
        self._runner = web.AppRunner(self.app, handler_cancellation=self._handler_cancellation, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, backlog=1024)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def call(self, function: Callable[[], T], timeout: float = START_TIMEOUT_SECONDS) -> T:
        """Run `function` on the server's thread, between two requests, and return what it returns."""

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=START_TIMEOUT_SECONDS)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=START_TIMEOUT_SECONDS)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
