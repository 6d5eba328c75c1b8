"""Run a simulator application on a background thread: for tests and the benchmark (no AWS, no fixed port)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

from aiohttp import web

from .app import create_app
from .exchange import SIM_LOG_KEY
from .log import SimulatorLog


class BackgroundServer:
    """`with BackgroundServer() as server: ... server.url ... server.log`: serves `app` on 127.0.0.1.

    The app runs on its own event loop in a daemon thread; port 0 picks a free port.
    """

    def __init__(
        self,
        app: web.Application | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        handler_cancellation: bool = True,
    ) -> None:
        self.app = app if app is not None else create_app()
        self._host, self._port = host, port
        self._handler_cancellation = handler_cancellation
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="localgw-simulator", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    @property
    def log(self) -> SimulatorLog:
        return self.app[SIM_LOG_KEY]

    def start(self) -> BackgroundServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> None:
        # handler_cancellation: aiohttp cancels a handler whose client disconnected (the simulator also notices
        # by itself, for servers that run without it)
        self._runner = web.AppRunner(self.app, handler_cancellation=self._handler_cancellation, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
