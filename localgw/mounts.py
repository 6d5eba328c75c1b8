"""Optional apps served by the gateway's own aiohttp app, each owned by another module.

- `localgw.simulator` — the simulated model upstream (Bedrock / SageMaker / OpenAI); contract: `add_routes(app)`.
- `localgw.dev_issuer` — a local JWT issuer so `$connect`'s real authorizer runs with no Cognito; contract:
  `DevIssuer(base_url)`, `add_routes(app, issuer)`, `issuer.env()`.
- `localgw.web` — the browser chat client in `web/` and its `config.json`; contract: `add_routes(app, gateway)`
  (`gateway()` returns `client_config`'s arguments).
- `lambdas.openai_http` — the OpenAI-compatible HTTP channel, the deployed function's own app; contract:
  `create_app(AppOptions)`, mounted at `/{stage}/v1` like API Gateway's stage path.

When a module is not there (yet), or its dependencies are missing, the gateway runs without it and says so. A module
that fails to import for another reason is a bug and raises.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from aiohttp import web

PLACEHOLDER_BASE_URL = "http://127.0.0.1"
"""The dev issuer's URL until the gateway knows its port (set again after binding)."""


def mount_simulator(app: web.Application) -> bool:
    """Add the simulator's routes to `app`. False when `localgw.simulator` does not exist."""
    module = _optional("localgw.simulator", missing_ok=())
    if module is None:
        return False
    module.add_routes(app)
    return True


def mount_dev_issuer(app: web.Application) -> Any | None:
    """Add the dev issuer's routes (JWKS, discovery, `/dev/token`) to `app` and return the issuer, or None when
    `localgw.dev_issuer` or its JWT libraries are not installed."""
    module = _optional("localgw.dev_issuer", missing_ok=("jwt", "cryptography"))
    if module is None:
        return None
    issuer = module.DevIssuer(PLACEHOLDER_BASE_URL)
    module.add_routes(app, issuer)
    return issuer


def mount_web(app: web.Application, gateway: Callable[[], dict[str, Any]]) -> bool:
    """Serve the browser client (`web/`) and its `config.json` on `app`; `gateway()` tells the running gateway's
    URL and auth (`localgw.web.client_config`'s arguments). Mount it after the gateway's other routes, which it
    never shadows. False when `localgw.web` or `web/` is not there."""
    module = _optional("localgw.web", missing_ok=())
    if module is None:
        return False
    return bool(module.add_routes(app, gateway))


def _optional(name: str, missing_ok: tuple[str, ...]) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing = exc.name or ""
        if missing == name or name.startswith(f"{missing}.") or missing.split(".")[0] in missing_ok:
            return None
        raise


def mount_openai_http(
    app: web.Application, stage: str, *, authenticate: bool, timeout_s: float, console: Any | None = None
) -> str | None:
    """Serve the OpenAI-compatible channel (`lambdas.openai_http`) at `/{stage}/v1`, the path API Gateway gives it;
    returns that path, or None when the package is not there. `authenticate` follows the gateway's authorizer;
    `console.http(...)` is told of each request when it ends."""
    module = _optional("lambdas.openai_http", missing_ok=())
    if module is None:
        return None
    path = f"/{stage}/v1"
    channel = module.create_app(module.AppOptions(authenticate=authenticate, timeout_s=timeout_s))
    if console is not None:
        channel.middlewares.insert(0, _reported(console))  # outermost: it sees the error responses too
    app.add_subapp(path, channel)
    return path


def _reported(console: Any) -> Callable[..., Any]:
    @web.middleware
    async def report(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        started = time.monotonic()
        response = await handler(request)
        elapsed_ms = (time.monotonic() - started) * 1000
        console.http(request.method, request.path, response.status, elapsed_ms, response.headers.get("x-request-id"))
        return response

    return report
