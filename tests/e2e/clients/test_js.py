"""The JavaScript client (clients/js, @ws-llm-relay/client) against the real relay: `node --test clients/js/test/`.

The node tests get the gateway's WebSocket URL and a dev-issuer token through the environment, and a small helper
on 127.0.0.1 for what only this side can do: delete a user's connections over @connections (boto3
`apigatewaymanagementapi` delete_connection), mint tokens for other users, and tell the simulator's planned text.
They run twice: with the `ws` package's constructor passed in (Node 20 has no global WebSocket) and with it set as
globalThis.WebSocket (Node 22 and browsers). `npm ci --prefix clients/js` runs first when node_modules is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from localgw import GatewayHandle, simulator
from tests import REPO_ROOT

CLIENT_DIR = REPO_ROOT / "clients" / "js"
NODE_TIMEOUT_SECONDS = 120


def _planned(text: str) -> str:
    """The simulator's reply to `text` as the first turn of a conversation."""
    return simulator.plan_reply(simulator.SimConversation.of(("user", text))).text


def run_node_test_file(
    directory: Path, test_file: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`node --test` on one file from `directory`, the spec reporter's list printed (shown with -s or -rA); fails the
    pytest test, with node's output, when a node test failed."""
    result = subprocess.run(
        [_node(), "--test", "--test-reporter=spec", *args, str(test_file)],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
    )
    print(result.stdout)
    assert result.returncode == 0, f"node --test {test_file.name} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _node() -> str:
    node = shutil.which("node")
    if not node:
        if os.environ.get("CI"):
            pytest.fail("node is not installed")
        pytest.skip("node is not installed")
    return node


@pytest.fixture(scope="module")
def node_modules() -> None:
    _node()
    if not all((CLIENT_DIR / "node_modules" / name).is_dir() for name in ("ws", "typescript")):
        subprocess.run(
            ["npm", "ci", "--prefix", str(CLIENT_DIR), "--no-audit", "--no-fund"],
            check=True,
            timeout=300,
            capture_output=True,
        )


@pytest.fixture
def helper(relay_gateway: GatewayHandle, management_client: Callable[..., Any]) -> Iterator[str]:
    """`http://127.0.0.1:PORT`: POST /kill?user=, /token?user=, /expected?text= (JSON answers)."""
    connections = management_client(relay_gateway)

    def kill(user: str) -> dict[str, Any]:
        ids = [
            connection.connection_id
            for connection in list(relay_gateway.gateway.registry)
            if (connection.peer.authorizer or {}).get("principalId") == user
        ]
        for connection_id in ids:
            connections.delete_connection(ConnectionId=connection_id)
        return {"killed": len(ids)}

    actions: dict[str, Callable[[dict[str, str]], dict[str, Any]]] = {
        "/kill": lambda q: kill(q["user"]),
        "/token": lambda q: {"token": relay_gateway.dev_issuer.mint(q["user"])},
        "/expected": lambda q: {"text": _planned(q["text"])},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urlparse(self.path)
            query = {key: values[0] for key, values in parse_qs(url.query).items()}
            try:
                status, body = 200, actions[url.path](query)
            except KeyError as exc:
                status, body = 404, {"message": f"unknown: {exc}"}
            except Exception as exc:  # reported to the node test that asked
                status, body = 500, {"message": repr(exc)}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


NODE_TEST_FILES = {
    "offline": "offline.test.js",  # splitting into parts, attachment checks, the reconnect bound (no relay)
    "relay": "relay.test.js",  # protocol v1 through localgw: answers, drops, cancel, errors, 1009
    "v2": "v2.test.js",  # long input in parts, tools, reasoning, attachments: needs the relay of issues 14 and 15
}


@pytest.mark.parametrize("suite", sorted(NODE_TEST_FILES))
@pytest.mark.parametrize("mode", ["passed", "global"])
def test_js_client_node_tests(
    mode: str, suite: str, node_modules: None, relay_gateway: GatewayHandle, helper: str
) -> None:
    env = {
        **os.environ,
        "RELAY_WS_URL": relay_gateway.ws_url,
        "RELAY_TOKEN": relay_gateway.dev_issuer.mint("alice"),
        "RELAY_HELPER_URL": helper,
        "RELAY_WS_MODE": mode,
    }
    run_node_test_file(CLIENT_DIR, CLIENT_DIR / "test" / NODE_TEST_FILES[suite], env)


def test_js_client_types_describe_the_api(node_modules: None) -> None:
    """The hand-written relay-client.d.ts compiles against a usage of the documented API (strict TypeScript)."""
    result = subprocess.run(
        [_node(), str(CLIENT_DIR / "node_modules" / "typescript" / "bin" / "tsc"), "-p", "test/types"],
        cwd=CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"tsc failed:\n{result.stdout}\n{result.stderr}"
