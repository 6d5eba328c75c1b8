"""LocalGateway: one aiohttp server (WebSocket API, @connections, simulated upstream) plus moto's DynamoDB.

It only wires the parts together; each behaviour lives in its own module (see docs/localgw.md for the map).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from dataclasses import replace
from typing import Any

from aiohttp import web

from lambdas.catalogue import Catalogue
from localgw import close_codes
from localgw.authorization import validate_identity_sources
from localgw.connections import Connection, ConnectionRegistry
from localgw.connections_api import ConnectionsApi
from localgw.console import Console
from localgw.dynamodb import LocalDynamoDB, ensure_table, external_client
from localgw.environment import EnvironmentPatch, handler_environment, resolve_region
from localgw.faults import PostFaults
from localgw.functions import authorizer_function, route_functions
from localgw.ids import new_api_id
from localgw.invoker import Invoker
from localgw.local_catalogue import banner_line, served_catalogue
from localgw.mounts import mount_dev_issuer, mount_openai_http, mount_simulator, mount_web
from localgw.options import GatewayOptions
from localgw.s3 import LocalS3
from localgw.stats import GatewayStats
from localgw.websocket_endpoint import HTTP_LIMITS, WebSocketEndpoint
from stacks.config import RelayConfig, load_config

SHUTDOWN_GRACE_SECONDS = 5.0
DEFAULT_TOKEN_PARAMETER = "token"
"""Where the relay's clients put their token (docs/security.md) when the authorizer lists no identity source."""
_ANY_ADDRESS = {"", "0.0.0.0", "::"}


class LocalGateway:
    """Create, `await start()`, use `ws_url` / `connections_url`, `await stop()` (or `async with`)."""

    def __init__(
        self,
        options: GatewayOptions | None = None,
        *,
        config: RelayConfig | None = None,
        console: Console | None = None,
    ) -> None:
        options = options or GatewayOptions()
        self.config = config or load_config(options.context_overrides)
        self.region = resolve_region(options.region, os.environ)
        self.options = replace(options, region=self.region)
        self.stage = options.stage or self.config.stage
        self.api_id = options.api_id or new_api_id()
        self.table_name = f"{self.config.stack_name}-local"
        self.functions = route_functions(self.options, self.config, self.region)
        self.authorizer = authorizer_function(self.options, self.config, self.region)
        if self.options.authorizer is not None:
            validate_identity_sources(self.options.authorizer.identity_sources)
        self.faults = PostFaults(options.post_latency_ms, options.post_429_rate, options.fault_seed)
        """Change `faults.latency_ms` / `faults.throttle_rate` at any time; they apply to the next POST."""
        self.stats = GatewayStats()
        self.console = console or Console()
        self.registry = ConnectionRegistry(
            options.idle_timeout_seconds, options.max_connection_seconds, on_expired=self._expired
        )
        self.dynamodb: LocalDynamoDB | None = None
        self.s3: LocalS3 | None = None
        """moto's S3 holding `attachments_bucket` (localgw.s3), when `options.s3`."""
        self.attachments_bucket = f"{self.config.stack_name.lower()}-attachments-local"
        self.simulator_mounted = False
        self.web_mounted = False
        """The browser client (web/) is served at `url` + "/" (localgw.web)."""
        self.openai_path: str | None = None
        """Where the OpenAI-compatible HTTP channel is served (`/{stage}/v1`), once started."""
        self.dev_issuer: Any | None = None
        """localgw.dev_issuer.DevIssuer when mounted: `dev_issuer.mint("alice")` is a token the authorizer accepts."""
        self.port: int | None = None
        self.models: Catalogue | None = None
        """The model catalogue the handlers serve (valid once started): `models.aliases`, `models.default`."""
        self._invoker: Invoker | None = None
        self._endpoint: WebSocketEndpoint | None = None
        self._runner: web.AppRunner | None = None
        self._environment: list[EnvironmentPatch] = []

    # Addresses (valid once started).

    @property
    def host(self) -> str:
        """The address clients use (a wildcard bind address is reached through 127.0.0.1)."""
        return "127.0.0.1" if self.options.host in _ANY_ADDRESS else self.options.host

    @property
    def url(self) -> str:
        """`http://HOST:PORT`: the simulated upstream's endpoint."""
        if self.port is None:
            raise RuntimeError("the gateway is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/{self.stage}"

    @property
    def connections_url(self) -> str:
        """`http://HOST:PORT/{stage}`: the `endpoint_url` for boto3's apigatewaymanagementapi client."""
        return f"{self.url}/{self.stage}"

    @property
    def openai_base_url(self) -> str | None:
        """`http://HOST:PORT/{stage}/v1`: the base URL for OpenAI SDKs (None when the channel is not served)."""
        return None if self.openai_path is None else f"{self.url}{self.openai_path}"

    def connection(self, connection_id: str) -> Connection | None:
        """An open connection by id (for tests; call on the gateway's loop)."""
        return self.registry.get(connection_id)

    # Lifecycle.

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        dynamodb_url: str | None = None
        if self.options.dynamodb_endpoint:
            dynamodb_url = self.options.dynamodb_endpoint
            client = external_client(dynamodb_url, self.region, os.environ)
            await loop.run_in_executor(None, ensure_table, client, self.table_name)
        elif self.options.dynamodb:
            self.dynamodb = LocalDynamoDB(
                port=self.options.ddb_port, region=self.region, latency_ms=self.options.ddb_latency_ms
            )
            await loop.run_in_executor(None, self.dynamodb.start)
            await loop.run_in_executor(None, self.dynamodb.create_table, self.table_name)
            dynamodb_url = self.dynamodb.url
        # Bind first: the handlers' environment names this port, and it must be in place before any handler module
        # is imported (Powertools reads POWERTOOLS_LOG_LEVEL when a module creates its Logger).
        sock = _listen(self.options.host, self.options.port)
        self.port = int(sock.getsockname()[1])
        if self.options.s3:
            self.s3 = LocalS3(port=self.options.s3_port, region=self.region)
            await loop.run_in_executor(None, self.s3.start)
            await loop.run_in_executor(None, self.s3.create_bucket, self.attachments_bucket, [self.url])
        environment = handler_environment(
            config=self.config,
            options=self.options,
            region=self.region,
            table_name=self.table_name,
            gateway_url=self.url,
            stage=self.stage,
            dynamodb_url=dynamodb_url,
            current=os.environ,
            s3_url=self.s3.url if self.s3 else None,
            attachments_bucket=self.attachments_bucket,
        )
        self._apply_environment(environment)
        self.models = served_catalogue(environment)
        self._invoker = Invoker(self.options.workers)
        app = self._build_app()
        if self.dev_issuer is not None:
            self.dev_issuer.base_url = self.url  # the issuer (and its JWKS URL) is this gateway
            self._apply_environment(self.dev_issuer.env())
        problems = self._import_problems()
        # HTTP_LIMITS: a token the verifier accepts must reach the authorizer.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, **HTTP_LIMITS)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self.console.banner(self._banner(problems))

    async def stop(self) -> None:
        # Close every connection like a deployment would (1001), let their $disconnect run, then tear down.
        for connection in self.registry:
            connection.close(close_codes.GOING_AWAY)
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        while len(self.registry) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if self._endpoint is not None:
            await self._endpoint.drain(SHUTDOWN_GRACE_SECONDS)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._invoker is not None:
            self._invoker.shutdown()
            self._invoker = None
        if self.dynamodb is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.dynamodb.stop)
        if self.s3 is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.s3.stop)
        while self._environment:
            self._environment.pop().restore()

    async def __aenter__(self) -> LocalGateway:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # Wiring.

    def _build_app(self) -> web.Application:
        assert self._invoker is not None
        app = web.Application(client_max_size=16 * 1024 * 1024)
        if self.options.mount_simulator:
            self.simulator_mounted = mount_simulator(app)
        if self.options.dev_issuer:
            self.dev_issuer = mount_dev_issuer(app)
        self._endpoint = WebSocketEndpoint(
            options=self.options,
            api_id=self.api_id,
            stage=self.stage,
            region=self.region,
            functions=self.functions,
            authorizer=self.authorizer,
            invoker=self._invoker,
            registry=self.registry,
            stats=self.stats,
            console=self.console,
        )
        ConnectionsApi(
            stage=self.stage,
            registry=self.registry,
            faults=self.faults,
            stats=self.stats,
            console=self.console,
            max_message_bytes=self.options.max_message_bytes,
            posts_reset_idle_timer=self.options.posts_reset_idle_timer,
        ).add_routes(app)
        app.router.add_get(f"/{self.stage}", self._endpoint.handle)
        streaming_timeout = self.options.streaming_timeout_seconds
        self.openai_path = mount_openai_http(
            app,
            self.stage,
            authenticate=self.options.authorizer is not None,
            timeout_s=self.config.send_text_timeout_seconds if streaming_timeout is None else streaming_timeout,
            console=self.console,
        )
        self.web_mounted = mount_web(app, self._web_settings)
        # Last, so it never shadows the simulator: any other GET (a wrong stage) is answered like API Gateway does.
        app.router.add_get("/{path:.*}", _forbidden)
        return app

    def _web_settings(self) -> dict[str, Any]:
        # What the browser client's config.json says about this gateway (localgw.web.client_config).
        return {
            "ws_url": self.ws_url,
            "auth": self.options.authorizer is not None,
            "dev_tokens": self.dev_issuer is not None,
            "simulated": self.simulator_mounted and self.options.upstream == "simulated",
        }

    def _apply_environment(self, variables: dict[str, str]) -> None:
        if self.options.apply_environment:
            patch = EnvironmentPatch(variables)
            patch.apply()
            self._environment.append(patch)

    def _expired(self, connection: Connection, cause: str) -> None:
        self.console.closing(connection.connection_id, cause, close_codes.GOING_AWAY)

    def _import_problems(self) -> list[str]:
        # Import every handler now so a typo shows at start; the invocation itself will fail the same way.
        problems = []
        for function in [*self.functions.values(), *([self.authorizer] if self.authorizer else [])]:
            try:
                function.handler()
            except Exception as exc:
                problems.append(f"  ! {function.name}: cannot import {function.handler_path} ({exc})")
        return problems

    def _banner(self, problems: list[str]) -> list[str]:
        routes = ", ".join(f"{key} → {function.name}" for key, function in self.functions.items())
        if self.options.upstream == "bedrock":
            upstream = f"real Amazon Bedrock in {self.region} with your AWS credentials"
        elif self.simulator_mounted:
            upstream = f"simulated at {self.url}"
        else:
            upstream = "simulator not available (localgw.simulator is missing): model calls will fail"
        dynamodb = f"{self.dynamodb.url} (moto), table {self.table_name}" if self.dynamodb else "off"
        if self.options.dynamodb_endpoint:
            dynamodb = f"{self.options.dynamodb_endpoint} (--dynamodb-endpoint), table {self.table_name}"
        if self.authorizer and self.options.authorizer:
            sources = self.options.authorizer.identity_sources
            # No identity sources: the authorizer itself looks for ?token= or an Authorization: Bearer header.
            found = ", ".join(sources) if sources else "token from ?token= or Authorization: Bearer"
            auth = f"{self.authorizer.name} on $connect ({found})"
        else:
            auth = "none ($connect is open)"
        limits = (
            f"idle {self.options.idle_timeout_seconds:g} s, lifetime {self.options.max_connection_seconds:g} s, "
            f"message {self.options.max_message_bytes} B, frame {self.options.max_frame_bytes or 'unchecked'} B"
        )
        return [
            f"localgw: {self.config.stack_name} WebSocket API, stage {self.stage} (api id {self.api_id})",
            f"  WebSocket     {self.ws_url}",
            *([f"  browser       {self.url}/  (chat client, web/)"] if self.web_mounted else []),
            f"  @connections  {self.connections_url}/@connections/{{connectionId}}",
            f"  routes        {routes}",
            f"  authorizer    {auth}",
            f"  DynamoDB      {dynamodb}",
            *([f"  S3            {self.s3.url} (moto), bucket {self.attachments_bucket}"] if self.s3 else []),
            f"  upstream      {upstream}",
            f"  models        {banner_line(self.models)}",
            f"  limits        {limits}",
            *self._token_lines(),
            *self._openai_lines(),
            *problems,
            f"Talk to it:  npx wscat -c {self._wscat_target()}",
            f"  or chat:   {self._terminal_chat_command()}",
            *self._curl_lines(),
        ]

    def _openai_lines(self) -> list[str]:
        if self.openai_base_url is None:
            return []
        auth = "same tokens, Authorization: Bearer" if self.options.authorizer else "no auth"
        return [f"  OpenAI HTTP   {self.openai_base_url}  (base URL for OpenAI SDKs; {auth})"]

    def _curl_lines(self) -> list[str]:
        # A ready `curl -N` (no buffering: the SSE events show as they arrive) with a token valid 1 h.
        if self.openai_base_url is None:
            return []
        auth = ""
        if self.options.authorizer is not None:
            if self.dev_issuer is None:
                return []
            auth = f"-H 'Authorization: Bearer {self.dev_issuer.mint()}' "
        default = self.models.default if self.models is not None else "claude"
        body = json.dumps({"model": default, "stream": True, "messages": [{"role": "user", "content": "Hello!"}]})
        return [
            f"Or over HTTP:  curl -N {self.openai_base_url}/chat/completions {auth}"
            f"-H 'Content-Type: application/json' -d '{body}'"
        ]

    def _terminal_chat_command(self) -> str:
        # The Python client's terminal chat (clients/python): streams text, resumes after drops, cancels on Ctrl-C.
        token = f" --token {self.dev_issuer.mint()}" if self.options.authorizer and self.dev_issuer else ""
        return f"{_this_python()} -m relay_client --url {self.ws_url}{token}"

    def _token_lines(self) -> list[str]:
        if self.dev_issuer is None:
            return []
        return [f"  dev tokens    curl '{self.url}/dev/token?sub=alice'  (signed by localgw.dev_issuer)"]

    def _wscat_target(self) -> str:
        # With an authorizer the bare URL is refused: put a ready-made token (valid 1 h) in the printed command, in the
        # query parameters the identity sources name, or the relay's `token` parameter when there are none.
        authorizer = self.options.authorizer
        if authorizer is None or self.dev_issuer is None:
            return self.ws_url
        prefix = "route.request.querystring."
        names = [s.removeprefix(prefix) for s in authorizer.identity_sources if s.startswith(prefix)]
        if len(names) != len(authorizer.identity_sources):
            return self.ws_url  # a header identity source: wscat needs -H, which we leave to the user
        token = self.dev_issuer.mint()
        query = "&".join(f"{name}={token}" for name in names or [DEFAULT_TOKEN_PARAMETER])
        return f"'{self.ws_url}?{query}'"


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=1024)


async def _forbidden(request: web.Request) -> web.Response:
    return web.json_response({"message": "Forbidden"}, status=403)


def _this_python() -> str:
    """The interpreter running localgw, which has relay_client installed (`.venv/bin/python` after `make dev`):
    a bare `python` may be another one, or none."""
    relative = os.path.relpath(sys.executable)
    return sys.executable if relative.startswith("..") else relative
