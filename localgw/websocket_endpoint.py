"""`ws://HOST:PORT/{stage}`: the upgrade ($connect and its authorizer), the message loop, and `$disconnect`.

The handshake is held until the authorizer and `$connect` have answered, as API Gateway does; messages are
dispatched to the worker pool without waiting, so one slow invocation never delays the next message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WebSocketError

from localgw import close_codes
from localgw.authorization import AuthorizerResultError, decide, missing_identity
from localgw.close_codes import Close
from localgw.connections import Connection, ConnectionRegistry, epoch_ms
from localgw.console import Console
from localgw.events import Api, Peer, authorizer_event, connect_event, disconnect_event, message_event
from localgw.frames import LimitedWebSocketResponse
from localgw.functions import Function
from localgw.ids import new_aws_id
from localgw.invoker import Invocation, Invoker
from localgw.options import GatewayOptions
from localgw.routing import error_frame, select_route, selection_path, selection_value
from localgw.stats import GatewayStats

log = logging.getLogger("localgw")

CLOSE_HANDSHAKE_SECONDS = 5.0

MAX_UPGRADE_LINE_BYTES = 20 * 1024
"""The longest request line (path and query string) and header field an upgrade request may have. aiohttp's own
default, 8,190 bytes, answered a bare 400 to tokens the verifier accepts (lambdas.auth.verifier.MAX_TOKEN_CHARS,
16 KB); this leaves room for such a token in `?token=` or `Authorization: Bearer` so that the authorizer, not the
HTTP parser, decides. (API Gateway's quotas name a 4,096-character WebSocket URL; whether that counts the query
string is unverified, so localgw does not enforce it: docs/security.md.)"""
HTTP_LIMITS = {"max_line_size": MAX_UPGRADE_LINE_BYTES, "max_field_size": MAX_UPGRADE_LINE_BYTES}
"""Keyword arguments for the aiohttp server (`web.AppRunner`) that serves the WebSocket endpoint."""


class WebSocketEndpoint:
    def __init__(
        self,
        *,
        options: GatewayOptions,
        api_id: str,
        stage: str,
        region: str,
        functions: Mapping[str, Function],
        authorizer: Function | None,
        invoker: Invoker,
        registry: ConnectionRegistry,
        stats: GatewayStats,
        console: Console,
    ) -> None:
        self._options = options
        self._api_id = api_id
        self._stage = stage
        self._region = region
        self._functions = functions
        self._authorizer = authorizer
        self._invoker = invoker
        self._registry = registry
        self._stats = stats
        self._console = console
        self._selection = selection_path(options.route_selection_expression)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _json_response(426, "Upgrade Required: connect with a WebSocket client")
        api = Api(self._api_id, self._stage, request.host, self._region, self._options.account_id)
        peer = Peer(
            connection_id=new_aws_id(),
            connected_at_ms=epoch_ms(),
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent"),
        )
        headers = [*request.headers.items(), ("X-Amzn-Trace-Id", _trace_id())]
        query = list(request.query.items())

        if self._authorizer is not None:
            outcome = await self._authorize(request, api, peer, headers, query)
            if isinstance(outcome, web.Response):
                return outcome
            peer = replace(peer, authorizer=outcome)

        protocol: str | None = None
        connect_invocation: Invocation | None = None
        if "$connect" in self._functions:
            answer = await self._connect(api, peer, headers, query)
            if isinstance(answer, web.Response):
                return answer
            connect_invocation, protocol = answer
        return await self._serve(request, api, peer, protocol, connect_invocation)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) for running invocations, `$disconnect` ones included, at shutdown."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # The handshake.

    async def _authorize(
        self,
        request: web.Request,
        api: Api,
        peer: Peer,
        headers: list[tuple[str, str]],
        query: list[tuple[str, str]],
    ) -> web.Response | dict[str, str]:
        assert self._authorizer is not None and self._options.authorizer is not None
        missing = missing_identity(self._options.authorizer.identity_sources, request.headers, request.query)
        if missing is not None:
            self._console.rejected(peer.connection_id, 401, f"{missing} is missing or empty")
            return _json_response(401, "Unauthorized")
        event = authorizer_event(
            api, peer, request_id=new_aws_id(), request_time_ms=epoch_ms(), headers=headers, query=query
        )
        invocation = await self._invoke_within_integration_timeout(self._authorizer, event)
        if invocation is None:
            self._console.rejected(peer.connection_id, 500, "the authorizer timed out")
            return _json_response(500, "Internal server error")
        self._stats.invocation("$authorizer", failed=invocation.failed, duration_ms=invocation.duration_ms)
        if invocation.failed:
            self._console.crashed(peer.connection_id, "authorizer crashed: handshake answered 500", invocation)
            return _json_response(500, "Internal server error")
        try:
            decision = decide(invocation.result, api.method_arn("$connect"))
        except AuthorizerResultError as exc:
            self._console.rejected(peer.connection_id, 500, f"unusable authorizer answer: {exc}")
            return _json_response(500, "Internal server error")
        if not decision.allowed or decision.authorizer_context is None:
            self._console.rejected(peer.connection_id, 403, decision.why)
            return _json_response(403, "Forbidden")
        return decision.authorizer_context

    async def _connect(
        self, api: Api, peer: Peer, headers: list[tuple[str, str]], query: list[tuple[str, str]]
    ) -> web.Response | tuple[Invocation, str | None]:
        event = connect_event(
            api, peer, request_id=new_aws_id(), request_time_ms=epoch_ms(), headers=headers, query=query
        )
        invocation = await self._invoke_within_integration_timeout(self._functions["$connect"], event)
        if invocation is None:
            limit = self._options.integration_timeout_seconds
            self._console.rejected(peer.connection_id, 504, f"$connect ran past the {limit:g} s integration timeout")
            return _json_response(504, "Endpoint request timed out")
        self._stats.invocation("$connect", failed=invocation.failed, duration_ms=invocation.duration_ms)
        if invocation.failed:
            self._console.crashed(peer.connection_id, "$connect crashed: handshake answered 502", invocation)
            return _json_response(502, "Internal server error")
        status, protocol, body = _connect_answer(invocation.result)
        if not 200 <= status < 300:
            self._console.rejected(peer.connection_id, status, f"$connect returned statusCode {status}")
            return web.Response(status=status, text=body)
        return invocation, protocol

    async def _invoke_within_integration_timeout(self, function: Function, event: dict[str, Any]) -> Invocation | None:
        # On timeout the handler thread keeps running, as the Lambda does after API Gateway gives up on it.
        try:
            return await asyncio.wait_for(
                self._invoker.invoke(function, event), self._options.integration_timeout_seconds
            )
        except TimeoutError:
            return None

    # The open connection.

    async def _serve(
        self,
        request: web.Request,
        api: Api,
        peer: Peer,
        protocol: str | None,
        connect_invocation: Invocation | None,
    ) -> web.StreamResponse:
        ws = LimitedWebSocketResponse(
            max_frame_bytes=self._options.max_frame_bytes,
            on_frame_too_big=lambda size: self._close(connection, f"a {size}-byte frame", close_codes.MESSAGE_TOO_BIG),
            # aiohttp refuses a message of exactly max_msg_size bytes; API Gateway accepts exactly 128 KB.
            max_msg_size=self._options.max_message_bytes + 1,
            compress=False,  # API Gateway does not negotiate permessage-deflate
            timeout=CLOSE_HANDSHAKE_SECONDS,  # how long a server-side close waits for the client's close frame
            protocols=(protocol,) if protocol else (),
        )
        connection = Connection(peer, ws, self._options.client_buffer_bytes)
        try:
            await ws.prepare(request)
        except (ConnectionError, RuntimeError) as exc:
            connection.ended(close_codes.ABNORMAL)
            log.info("client %s left before its handshake completed (%s)", peer.connection_id, exc)
            return ws
        self._registry.add(connection)
        self._stats.connection_opened()
        self._console.connected(peer.connection_id, peer.source_ip, connect_invocation)
        try:
            await self._receive(connection, api)
        finally:
            self._registry.remove(peer.connection_id)
            await connection.wait_closed(CLOSE_HANDSHAKE_SECONDS)
            reason = connection.close_reason or close_codes.ABNORMAL
            connection.ended(reason)
            self._stats.connection_closed()
            self._spawn(self._disconnect(api, peer, reason))
        return ws

    async def _receive(self, connection: Connection, api: Api) -> None:
        ws = connection.ws
        while True:
            message = await ws.receive()
            if message.type is WSMsgType.TEXT:
                connection.touch()
                self._dispatch(connection, api, message.data)
            elif message.type is WSMsgType.BINARY:
                self._close(connection, "a binary frame", close_codes.UNSUPPORTED_DATA)
            elif message.type is WSMsgType.CLOSE:
                connection.ended(close_codes.from_client(message.data, message.extra))
                return
            elif message.type is WSMsgType.ERROR:
                too_big = isinstance(message.data, WebSocketError) and message.data.code == 1009
                reason = close_codes.MESSAGE_TOO_BIG if too_big else close_codes.ABNORMAL
                connection.ended(reason)
                if too_big:
                    self._console.closing(connection.connection_id, "a message over 128 KB", reason)
                return
            else:  # CLOSING / CLOSED: a server-side close is under way
                return

    def _close(self, connection: Connection, cause: str, reason: Close) -> None:
        if connection.close(reason):
            self._console.closing(connection.connection_id, cause, reason)

    def _dispatch(self, connection: Connection, api: Api, body: str) -> None:
        request_id = new_aws_id()
        route_key = select_route(body, self._functions.keys(), self._selection)
        if route_key is None:
            connection.send(error_frame("Forbidden", connection.connection_id, request_id), force=True)
            self._console.unrouted(connection.connection_id, _clipped(selection_value(body, self._selection)))
            return
        event = message_event(
            api,
            connection.peer,
            route_key=route_key,
            body=body,
            request_id=request_id,
            message_id=new_aws_id(),
            request_time_ms=epoch_ms(),
        )
        self._spawn(self._route(connection, route_key, event, request_id))

    async def _route(self, connection: Connection, route_key: str, event: dict[str, Any], request_id: str) -> None:
        before = self._stats.posts(connection.connection_id)
        invocation = await self._invoker.invoke(self._functions[route_key], event)
        posts = self._stats.posts(connection.connection_id).minus(before)
        self._stats.invocation(route_key, failed=invocation.failed, duration_ms=invocation.duration_ms)
        if invocation.failed:
            connection.send(error_frame("Internal server error", connection.connection_id, request_id), force=True)
        self._console.routed(connection.connection_id, route_key, invocation, posts)

    async def _disconnect(self, api: Api, peer: Peer, reason: Close) -> None:
        function = self._functions.get("$disconnect")
        if function is None:
            self._console.disconnected(peer.connection_id, reason, None)
            return
        event = disconnect_event(
            api,
            peer,
            request_id=new_aws_id(),
            request_time_ms=epoch_ms(),
            status_code=reason.code,
            reason=reason.reason,
        )
        invocation = await self._invoker.invoke(function, event)
        self._stats.invocation("$disconnect", failed=invocation.failed, duration_ms=invocation.duration_ms)
        if invocation.failed:
            self._console.crashed(peer.connection_id, "$disconnect crashed", invocation)
        else:
            self._console.disconnected(peer.connection_id, reason, invocation)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("localgw internal error", exc_info=task.exception())


def _connect_answer(result: Any) -> tuple[int, str | None, str]:
    """statusCode (200 when the handler returned none), the accepted subprotocol, and the body of a rejection."""
    if not isinstance(result, Mapping):
        return 200, None, ""
    try:
        status = int(result.get("statusCode", 200))
    except (TypeError, ValueError):
        return 502, None, json.dumps({"message": "Internal server error"})
    headers = result.get("headers") or {}
    protocol = next((str(v) for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None)
    body = result.get("body")
    return status, protocol, body if isinstance(body, str) else ""


def _clipped(selection: str | None, limit: int = 100) -> str | None:
    """A client's route selection value for the console: up to 128 KB of it otherwise."""
    return selection if selection is None or len(selection) <= limit else selection[: limit - 1] + "…"


def _json_response(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
