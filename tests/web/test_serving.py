"""localgw serves the browser client (localgw/web.py): the files, config.json, and nothing more — no directory
listing, no path traversal, and none of the gateway's own routes shadowed."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest
from aiohttp import web
from websockets.exceptions import InvalidStatus

from localgw import web as web_client
from tests.conftest import RECV_TIMEOUT


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=RECV_TIMEOUT) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/markdown.js", "text/javascript; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
    ],
)
def test_the_client_files_are_served_with_their_content_type(web_gateway, path, content_type):
    status, headers, body = get(f"{web_gateway.url}{path}")
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body


def test_config_json_describes_the_running_gateway(web_gateway):
    status, headers, body = get(f"{web_gateway.url}/config.json")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"
    assert json.loads(body) == {
        "wsUrl": web_gateway.ws_url,
        "auth": {"mode": "dev", "tokenUrl": "/dev/token"},
        "simulated": True,
    }


@pytest.mark.parametrize(
    "path",
    ["/web/", "/web/app.js", "/../pyproject.toml", "/%2e%2e/pyproject.toml", "/..%2fpyproject.toml", "/.gitignore"],
)
def test_nothing_else_is_served(web_gateway, path):
    status, _, body = get(f"{web_gateway.url}{path}")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_the_gateways_own_routes_are_not_shadowed(web_gateway):
    status, _, body = get(f"{web_gateway.url}/dev/token?sub=someone")
    assert status == 200 and json.loads(body)["sub"] == "someone"
    assert get(f"{web_gateway.url}/.well-known/jwks.json")[0] == 200
    assert get(f"{web_gateway.url}/_sim/requests")[0] == 200
    assert get(web_gateway.ws_url.replace("ws://", "http://"))[0] == 426  # the stage: still the WebSocket API


def test_a_websocket_upgrade_to_the_page_is_refused_like_any_other_path(web_gateway, ws_connect):
    for path in ("/", "/index.html", "/config.json"):
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(web_gateway.url.replace("http://", "ws://") + path)
        assert refused.value.response.status_code == 403


def test_without_an_authorizer_the_page_connects_without_a_token(start_gateway, caplog):
    with caplog.at_level(logging.INFO, logger="localgw"):
        handle = start_gateway()
    config = json.loads(get(f"{handle.url}/config.json")[2])
    assert config == {"wsUrl": handle.ws_url, "auth": {"mode": "none"}}
    assert f"  browser       {handle.url}/  (chat client, web/)" in caplog.messages


def test_a_file_whose_path_is_routed_already_is_skipped(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "dev").write_text("not served")  # no known extension
    (tmp_path / "token.js").write_text("")
    (tmp_path / "config.json").write_text("{}")  # never the file: config.json comes from the gateway
    (tmp_path / "notes.md").write_text("private")
    app = web.Application()

    async def taken(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/token.js", taken)
    served = web_client.add_routes(app, dict, tmp_path)
    assert sorted(served) == ["/", "/config.json", "/index.html"]


def test_no_index_html_means_nothing_is_mounted(tmp_path):
    app = web.Application()
    assert web_client.add_routes(app, dict, tmp_path) == []
    assert len(app.router.resources()) == 0


def test_the_page_runs_on_the_relay_client_package(web_gateway):
    # One implementation of the protocol in JavaScript: web/relay-client.js is clients/js's module (a symlink, so
    # localgw and the deployment's asset both serve the package's own file), and no other page module opens a socket.
    root = web_client.WEB_ROOT
    package = root.parent / "clients" / "js" / "relay-client.js"
    assert (root / "relay-client.js").resolve() == package.resolve()
    status, headers, body = get(f"{web_gateway.url}/relay-client.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert body == package.read_bytes()
    sockets = [p.name for p in root.glob("*.js") if p.name != "relay-client.js" and "WebSocket(" in p.read_text()]
    assert sockets == []
    assert 'from "./relay-client.js"' in (root / "app.js").read_text()
