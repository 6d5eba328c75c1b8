"""The @connections management API: `POST|GET|DELETE /{stage}/@connections/{connectionId}`.

Errors carry `x-amzn-ErrorType` so boto3 raises the typed exceptions (`client.exceptions.GoneException`, ...), which
a bare status code would not give (it becomes a generic ClientError). SigV4 signatures are accepted unchecked.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from aiohttp import web

from localgw import close_codes
from localgw.connections import ConnectionRegistry
from localgw.console import Console
from localgw.faults import PostFaults
from localgw.stats import GatewayStats


def iso8601(epoch_ms: int) -> str:
    """`2024-11-11T13:51:49.875Z`: the `__timestampIso8601` shape of GetConnection's connectedAt/lastActiveAt."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def aws_error(status: int, error_type: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message},
        status=status,
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4())},
    )


class ConnectionsApi:
    def __init__(
        self,
        *,
        stage: str,
        registry: ConnectionRegistry,
        faults: PostFaults,
        stats: GatewayStats,
        console: Console,
        max_message_bytes: int,
        posts_reset_idle_timer: bool,
    ) -> None:
        self._stage = stage
        self._registry = registry
        self._faults = faults
        self._stats = stats
        self._console = console
        self._max_message_bytes = max_message_bytes
        self._posts_reset_idle_timer = posts_reset_idle_timer

    def add_routes(self, app: web.Application) -> None:
        # One route for every method: unknown stages and methods get API Gateway's ForbiddenException, not 404/405.
        app.router.add_route("*", "/{stage}/@connections/{connection_id}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["stage"] != self._stage:
            return aws_error(403, "ForbiddenException", "Forbidden")
        # aiohttp has already URL-decoded the id (botocore sends `=` as `%3D`).
        connection_id = request.match_info["connection_id"]
        if request.method == "POST":
            return await self._post(request, connection_id)
        if request.method == "GET":
            return self._get(connection_id)
        if request.method == "DELETE":
            return self._delete(connection_id)
        return aws_error(403, "ForbiddenException", "Forbidden")

    async def _post(self, request: web.Request, connection_id: str) -> web.Response:
        data = await request.read()
        latency_ms = self._faults.latency_ms
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        if self._faults.should_throttle():
            self._stats.post_refused(connection_id, "throttled")
            return aws_error(429, "LimitExceededException", "Rate exceeded (localgw fault injection)")
        if len(data) > self._max_message_bytes:
            self._stats.post_refused(connection_id, "too_large")
            return aws_error(
                413, "PayloadTooLargeException", f"Message of {len(data)} bytes exceeds {self._max_message_bytes} bytes"
            )
        connection = self._registry.get(connection_id)
        if connection is None:
            self._stats.post_refused(connection_id, "gone")
            return aws_error(410, "GoneException", f"Connection {connection_id} is gone")
        try:
            frame: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            frame = data  # not text: delivered as a binary frame (see docs/localgw.md)
        if not connection.send(frame):
            self._stats.post_refused(connection_id, "throttled")
            return aws_error(429, "LimitExceededException", "Client-side buffer full")
        if self._posts_reset_idle_timer:
            connection.touch()
        self._stats.post_delivered(connection_id, len(data), _answer_tokens(data))
        return web.Response(status=200)

    def _get(self, connection_id: str) -> web.Response:
        connection = self._registry.get(connection_id)
        if connection is None:
            return aws_error(410, "GoneException", f"Connection {connection_id} is gone")
        peer = connection.peer
        return web.json_response(
            {
                "connectedAt": iso8601(peer.connected_at_ms),
                "identity": {"sourceIp": peer.source_ip, "userAgent": peer.user_agent or ""},
                "lastActiveAt": iso8601(connection.last_active_ms),
            }
        )

    def _delete(self, connection_id: str) -> web.Response:
        connection = self._registry.get(connection_id)
        if connection is None:
            return aws_error(410, "GoneException", f"Connection {connection_id} is gone")
        if connection.close(close_codes.NORMAL):
            self._console.closing(connection_id, "DeleteConnection", close_codes.NORMAL)
        return web.Response(status=204)


def _answer_tokens(data: bytes) -> int:
    """The output tokens a relay `done` frame reports (0 for anything else): the console's per-answer summary.
    A cheap byte check first, since nearly every post is a delta."""
    if b'"done"' not in data:
        return 0
    try:
        frame = json.loads(data)
    except ValueError:
        return 0
    if not isinstance(frame, dict) or frame.get("type") != "done":
        return 0
    tokens = (frame.get("usage") or {}).get("outputTokens")
    return tokens if isinstance(tokens, int) else 0
