"""The browser chat client (`web/`), served by localgw at `http://HOST:PORT/` next to the WebSocket API.

- `GET /` and `GET /index.html` — the page; `GET /<file>` — each file at the top of `web/` (app modules, CSS),
  with an explicit content type. Routes are made per file when the gateway starts, so no request path ever
  reaches the file system: no traversal, no directory listing; a file added later needs a restart.
- `GET /config.json` — the client's settings, built from the running gateway (docs/web.md has the contract).

Nothing here may shadow the gateway's own routes: a file whose path is already routed (the stage, `/dev/token`,
the simulator, ...) is skipped, and a WebSocket upgrade to any of these paths is refused with API Gateway's 403,
exactly as before the client was served.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
CONFIG_PATH = "/config.json"
TOKEN_PATH = "/dev/token"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
}
"""The only files served: anything else in `web/` (notes, editor backups) stays private."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Edits to web/ show on reload: the browser must ask again every time (it gets a 304 when nothing changed).
    "Cache-Control": "no-cache",
}


def client_config(ws_url: str, *, auth: bool, dev_tokens: bool, simulated: bool) -> dict[str, Any]:
    """config.json for the page served by this gateway: its WebSocket URL and how to get a token."""
    if not auth:
        mode: dict[str, Any] = {"mode": "none"}
    elif dev_tokens:
        mode = {"mode": "dev", "tokenUrl": TOKEN_PATH}
    else:
        mode = {"mode": "none"}  # an authorizer without the dev issuer: nothing the page could sign in with
    config: dict[str, Any] = {"wsUrl": ws_url, "auth": mode}
    if simulated:
        config["simulated"] = True
    return config


def add_routes(app: web.Application, gateway: Callable[[], dict[str, Any]], root: Path = WEB_ROOT) -> list[str]:
    """Serve the files at the top of `root` and `config.json` on `app`, skipping any path another route already has.

    `gateway()` gives `client_config`'s arguments; it is called per request, so the page always gets the running
    gateway's URL. Returns the paths served; empty when `root` has no index.html."""
    if not (root / "index.html").is_file():
        return []
    taken = {info.get("path") or info.get("formatter") for info in (r.get_info() for r in app.router.resources())}
    files = {
        f"/{path.name}": path
        for path in sorted(root.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES and not path.name.startswith(".")
    }
    files["/"] = root / "index.html"
    files.pop(CONFIG_PATH, None)  # the running gateway's settings, never a stale copy from disk
    served = []
    for route, path in files.items():
        if route in taken:
            continue
        app.router.add_get(route, _file_handler(path))
        served.append(route)
    if CONFIG_PATH not in taken:
        app.router.add_get(CONFIG_PATH, _config_handler(gateway))
        served.append(CONFIG_PATH)
    return served


def _file_handler(path: Path) -> Callable[[web.Request], Any]:
    content_type = CONTENT_TYPES[path.suffix]

    async def serve(request: web.Request) -> web.StreamResponse:
        if _is_upgrade(request):
            return _forbidden()
        if not path.is_file():
            return web.json_response({"message": "Not Found"}, status=404)
        return web.FileResponse(path, headers={**SECURITY_HEADERS, "Content-Type": content_type})

    return serve


def _config_handler(gateway: Callable[[], dict[str, Any]]) -> Callable[[web.Request], Any]:
    async def serve(request: web.Request) -> web.StreamResponse:
        if _is_upgrade(request):
            return _forbidden()
        return web.json_response(client_config(**gateway()), headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})

    return serve


def _is_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _forbidden() -> web.Response:
    # What the gateway answers for any path that is not its stage: a WebSocket client must keep seeing it.
    return web.json_response({"message": "Forbidden"}, status=403)
