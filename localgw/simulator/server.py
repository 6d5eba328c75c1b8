"""Run a simulator application on a background thread: for tests and the benchmark (no AWS, no fixed port)."""

from __future__ import annotations

from aiohttp import web

from localgw.background import BackgroundServer as _Background

from .app import create_app
from .exchange import SIM_LOG_KEY
from .log import SimulatorLog


class SimulatorServer(_Background):
    """`with SimulatorServer() as server: ... server.url ... server.log`: the simulator on 127.0.0.1."""

    def __init__(
        self,
        app: web.Application | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        handler_cancellation: bool = True,
    ) -> None:
        # handler_cancellation: the simulator also notices a departed client by itself, for servers run without it
        super().__init__(
            app if app is not None else create_app(),
            host,
            port,
            name="localgw-simulator",
            handler_cancellation=handler_cancellation,
        )

    @property
    def log(self) -> SimulatorLog:
        return self.app[SIM_LOG_KEY]
