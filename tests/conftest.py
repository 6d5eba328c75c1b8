"""Shared fixtures: a running localgw, WebSocket clients and @connections clients.

Gateway tests inject small handlers (`gateway_for({...})`); end-to-end tests of the real handlers use
`relay_gateway` (lambdas.routes.ROUTES and AUTHORIZER, moto DynamoDB, simulated upstream, dev JWT issuer):

    ws = ws_connect(relay_gateway.ws_url, query=f"token={relay_gateway.dev_issuer.mint('alice')}")

Everything runs on 127.0.0.1 with ephemeral ports; nothing talks to AWS.

    def test_echo(gateway_for, ws_connect, management_client):
        def echo(event, context):
            client = management_client(handle)
            client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=event["body"])

        handle = gateway_for({"$default": echo})
        ws = ws_connect(handle.ws_url)
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.sync.client import ClientConnection, connect

from localgw import GatewayHandle, GatewayOptions, Handler, inline_routes, run_in_thread
from tests.auth_fakes import JwksServer

RECV_TIMEOUT = 10.0
"""Seconds a test waits for a frame or an event: generous, the machine is shared."""


class Recorder:
    """Thread-safe record of the events handlers received, in arrival order.

    `recorder.handler(result)` makes a handler that records and returns `result` (a callable result is called
    with `(event, context)`); `wait_for(route_key)` blocks until that many events for the route arrived.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []
        self._changed = threading.Condition()

    def handler(self, result: Any = None) -> Handler:
        def record(event: dict[str, Any], context: Any) -> Any:
            with self._changed:
                self.events.append(event)
                self.contexts.append(context)
                self._changed.notify_all()
            return result(event, context) if callable(result) else result

        return record

    def of(self, route_key: str) -> list[dict[str, Any]]:
        with self._changed:
            return [event for event in self.events if event["requestContext"]["routeKey"] == route_key]

    def wait_for(self, route_key: str, count: int = 1, timeout: float = RECV_TIMEOUT) -> list[dict[str, Any]]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._of_locked(route_key)) >= count, timeout):
                raise AssertionError(f"expected {count} {route_key} event(s), got {len(self._of_locked(route_key))}")
            return self._of_locked(route_key)

    def _of_locked(self, route_key: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("requestContext", {}).get("routeKey") == route_key]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def start_gateway() -> Iterator[Callable[..., GatewayHandle]]:
    """`start_gateway(**GatewayOptions fields) -> GatewayHandle`: a localgw on a free port in a background thread,
    stopped after the test. Lean unless asked: no DynamoDB, simulator, dev issuer or authorizer (`dynamodb=True`,
    `mount_simulator=True`, `dev_issuer=True`, `authorizer=...`)."""
    handles: list[GatewayHandle] = []

    def start(**overrides: Any) -> GatewayHandle:
        settings: dict[str, Any] = {
            "port": 0,
            "dynamodb": False,
            "mount_simulator": False,
            "dev_issuer": False,
            "authorizer": None,
        }
        settings.update(overrides)
        handle = run_in_thread(GatewayOptions(**settings))
        handles.append(handle)
        return handle

    yield start
    for handle in reversed(handles):  # reverse: environment patches are restored in order
        handle.stop()


@pytest.fixture
def gateway_for(start_gateway: Callable[..., GatewayHandle]) -> Callable[..., GatewayHandle]:
    """`gateway_for({route_key: handler}, streaming=("sendtext",), **options)`: a gateway whose route table is
    exactly the given handlers (add "$connect"/"$disconnect"/"$default" keys to have those routes)."""

    def start(handlers: Mapping[str, Handler], *, streaming: tuple[str, ...] = (), **options: Any) -> GatewayHandle:
        return start_gateway(routes=inline_routes(handlers, streaming), handlers=dict(handlers), **options)

    return start


@pytest.fixture
def ws_connect() -> Iterator[Callable[..., ClientConnection]]:
    """`ws_connect(url, query="token=x", headers={...}, **websockets_connect_kwargs) -> ClientConnection`: a
    synchronous `websockets` client, closed after the test. Raises `websockets.exceptions.InvalidStatus` when the
    handshake is refused (`exc.response.status_code`)."""
    with contextlib.ExitStack() as clients:

        def open_client(
            url: str, *, query: str | None = None, headers: Mapping[str, str] | None = None, **kwargs: Any
        ) -> ClientConnection:
            kwargs.setdefault("open_timeout", RECV_TIMEOUT)
            kwargs.setdefault("close_timeout", RECV_TIMEOUT)
            # Entered as a context manager: websockets 17 warns about bare connect() calls.
            target = f"{url}?{query}" if query else url
            return clients.enter_context(connect(target, additional_headers=headers, **kwargs))

        yield open_client


@pytest.fixture
def management_client() -> Callable[..., Any]:
    """`management_client(handle, attempts=1)`: boto3 `apigatewaymanagementapi` for the gateway's @connections
    endpoint, with dummy credentials. `attempts` counts the first call: 1 makes a 429 surface instead of being
    retried (botocore's standard mode retries LimitExceededException)."""

    def make(handle: GatewayHandle, *, attempts: int = 1) -> Any:
        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=handle.connections_url,
            region_name=handle.region,
            aws_access_key_id="localgw",
            aws_secret_access_key="localgw",
            config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
        )

    return make


@pytest.fixture(scope="session")
def _relay_gateway_session() -> Iterator[GatewayHandle]:
    handle = run_in_thread(GatewayOptions(port=0))
    yield handle
    handle.stop()


@pytest.fixture
def relay_gateway(_relay_gateway_session: GatewayHandle) -> GatewayHandle:
    """The real relay, for end-to-end tests: lambdas.routes.ROUTES (and AUTHORIZER), moto DynamoDB with the
    relay's table, the simulated upstream, and the handlers' environment exactly as localgw sets it for
    `python -m localgw`. One per test session; tests must not leave connections open.

    `relay_gateway.ws_url`, `.connections_url`, `.stats`, `.faults` (reset what you change),
    `.dev_issuer.mint("alice")` for a token the real authorizer accepts (when one is configured),
    `.gateway.dynamodb.client()` to look in the table.
    """
    gateway = _relay_gateway_session.gateway
    # moto keeps its data per process: a unit test's mock_aws() exit wipes it, table included. Re-create it
    # (a no-op when it exists) so no test depends on which tests ran before it.
    if gateway.dynamodb is not None:
        gateway.dynamodb.create_table(gateway.table_name)
    if gateway.s3 is not None:  # the same for the attachments bucket (moto's S3 shares the process's state)
        gateway.s3.create_bucket(gateway.attachments_bucket, [gateway.url])
    return _relay_gateway_session


@pytest.fixture(scope="module")
def jwks_running() -> Iterator[JwksServer]:
    """A JWKS server on 127.0.0.1 for one test module (tests/auth_fakes.py)."""
    running = JwksServer().start()
    yield running
    running.stop()


@pytest.fixture
def jwks_server(jwks_running: JwksServer) -> JwksServer:
    """The module's JWKS server with no documents served and no requests counted yet."""
    jwks_running.reset()
    return jwks_running
