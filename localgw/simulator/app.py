"""Wiring: the simulator's routes on an aiohttp application, and the debugging view of its request log."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from .bedrock import add_bedrock_routes
from .exchange import SIM_LOG_KEY, SIM_STATE_KEY, SimulatorState
from .openai_chat import add_openai_routes
from .sagemaker import add_sagemaker_routes
from .script import Defaults

REQUESTS_PATH: Final = "/_sim/requests"


def add_routes(app: web.Application, defaults: Defaults | None = None) -> None:
    """Serve the simulated upstreams (Bedrock, SageMaker, OpenAI-compatible) and `/_sim/requests` on `app`.

    Call before the app starts. Afterwards `app[SIM_LOG_KEY]` is the `SimulatorLog` of every simulated request.
    """
    if SIM_STATE_KEY not in app:
        state = SimulatorState(defaults=defaults or Defaults())
        app[SIM_STATE_KEY] = state
        app[SIM_LOG_KEY] = state.log
    add_bedrock_routes(app)
    add_sagemaker_routes(app)
    add_openai_routes(app)
    app.router.add_get(REQUESTS_PATH, list_requests)
    app.router.add_delete(REQUESTS_PATH, clear_requests)


def create_app(defaults: Defaults | None = None) -> web.Application:
    """An application serving only the simulator (tests, or `python -m localgw.simulator`)."""
    app = web.Application()
    add_routes(app, defaults)
    return app


async def list_requests(request: web.Request) -> web.Response:
    """`GET /_sim/requests[?limit=N]`: the most recent records, oldest first (see docs/simulator.md)."""
    records = request.app[SIM_LOG_KEY].to_json()
    limit = request.query.get("limit", "")
    if limit.isdigit():
        records = records[-int(limit) :] if int(limit) else []
    return web.json_response({"requests": records})


async def clear_requests(request: web.Request) -> web.Response:
    request.app[SIM_LOG_KEY].clear()
    return web.Response(status=204)
