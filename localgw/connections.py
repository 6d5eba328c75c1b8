"""Open connections: their outgoing frames, their activity, and API Gateway's idle and lifetime limits.

Every frame to a client (an @connections POST, a gateway error frame) goes through that connection's outbox and
one writer task, so frames keep their order and a client that reads slowly only ever delays itself: when its
outbox holds more than `buffer_limit` bytes, further posts are refused (API Gateway's "client-side buffer full"
429) instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator

from aiohttp import web

from localgw import close_codes
from localgw.close_codes import Close
from localgw.events import Peer

log = logging.getLogger("localgw")

FLUSH_TIMEOUT_SECONDS = 2.0
"""How long a server-side close waits for already-accepted frames to reach a slow client."""

_CLOSE = object()


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class Connection:
    """One open WebSocket: its peer, its outbox and writer task, its activity, and why it ended."""

    def __init__(self, peer: Peer, ws: web.WebSocketResponse, buffer_limit: int) -> None:
        self.peer = peer
        self.ws = ws
        self.last_active_ms = peer.connected_at_ms
        self.close_reason: Close | None = None
        """Why the connection ended, set once by whoever ended it first; what `$disconnect` reports."""
        self._buffer_limit = buffer_limit
        self._pending_bytes = 0
        self._opened = time.monotonic()
        self._last_active = self._opened
        self._outbox: asyncio.Queue[object] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        self._closing: asyncio.Task[None] | None = None

    @property
    def connection_id(self) -> str:
        return self.peer.connection_id

    @property
    def is_open(self) -> bool:
        return self.close_reason is None and not self.ws.closed

    def touch(self) -> None:
        """Activity: resets the idle timer and moves GetConnection's lastActiveAt."""
        self.last_active_ms = epoch_ms()
        self._last_active = time.monotonic()

    def idle_deadline(self, idle_timeout: float) -> float:
        return self._last_active + idle_timeout

    def lifetime_deadline(self, max_duration: float) -> float:
        return self._opened + max_duration

    def send(self, data: str | bytes, *, force: bool = False) -> bool:
        """Queue one frame (text for str, binary for bytes). False when closed, or when the client's buffer is full
        (`force` skips that check: gateway error frames are never refused)."""
        if not self.is_open:
            return False
        if not force and self._pending_bytes + len(data) > self._buffer_limit:
            return False
        self._pending_bytes += len(data)
        self._outbox.put_nowait(data)
        return True

    def close(self, reason: Close) -> bool:
        """Close from the server side: flush accepted frames (briefly), then send the close frame.
        False when the connection was already ending."""
        if self.close_reason is not None:
            return False
        self.close_reason = reason
        self._closing = asyncio.get_running_loop().create_task(self._close(reason))
        return True

    async def wait_closed(self, timeout: float) -> None:
        """Wait (bounded) for a server-side closing handshake to finish."""
        if self._closing is not None and not self._closing.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closing), timeout)

    def ended(self, reason: Close) -> None:
        """The socket is gone (client close, error, or the end of a server-side close): stop writing."""
        if self.close_reason is None:
            self.close_reason = reason
        self._writer.cancel()

    async def _close(self, reason: Close) -> None:
        self._outbox.put_nowait(_CLOSE)
        if not self._writer.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), FLUSH_TIMEOUT_SECONDS)
            except (TimeoutError, asyncio.CancelledError):  # too slow, or cancelled by ended() meanwhile
                self._writer.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close(code=reason.code, message=reason.reason.encode())

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if item is _CLOSE:
                return
            assert isinstance(item, str | bytes)
            self._pending_bytes -= len(item)
            try:
                if isinstance(item, str):
                    await self.ws.send_str(item)
                else:
                    await self.ws.send_bytes(item)
            except Exception:  # the socket went away under us: the receive loop reports the close
                return


class ConnectionRegistry:
    """Open connections by id, each watched for API Gateway's idle timeout and maximum lifetime."""

    def __init__(
        self,
        idle_timeout_seconds: float,
        max_connection_seconds: float,
        on_expired: Callable[[Connection, str], None] | None = None,
    ) -> None:
        self.idle_timeout_seconds = idle_timeout_seconds
        self.max_connection_seconds = max_connection_seconds
        self._on_expired = on_expired
        self._connections: dict[str, Connection] = {}
        self._watchdogs: dict[str, asyncio.Task[None]] = {}

    def add(self, connection: Connection) -> None:
        self._connections[connection.connection_id] = connection
        self._watchdogs[connection.connection_id] = asyncio.get_running_loop().create_task(self._watch(connection))

    def remove(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)
        watchdog = self._watchdogs.pop(connection_id, None)
        if watchdog is not None:
            watchdog.cancel()

    def get(self, connection_id: str) -> Connection | None:
        """The connection if it is open; None once closed or closing (@connections then answers 410)."""
        connection = self._connections.get(connection_id)
        if connection is None or not connection.is_open:
            return None
        return connection

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._connections.values()))

    def __len__(self) -> int:
        return len(self._connections)

    async def _watch(self, connection: Connection) -> None:
        # One sleeping task per connection, re-armed when activity moved the idle deadline while it slept.
        while connection.is_open:
            idle = connection.idle_deadline(self.idle_timeout_seconds)
            lifetime = connection.lifetime_deadline(self.max_connection_seconds)
            now = time.monotonic()
            if now >= lifetime or now >= idle:
                cause = "max connection duration" if now >= lifetime else "idle timeout"
                connection.close(close_codes.GOING_AWAY)
                if self._on_expired is not None:
                    self._on_expired(connection, cause)
                return
            await asyncio.sleep(min(idle, lifetime) - now)
