"""The benchmark's WebSocket client: asks one question and timestamps every frame as it arrives."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.answers import Received, is_terminal
from bench.plan import Protocol

OPEN_TIMEOUT_S = 30.0


async def open_socket(ws_url: str, token: str | None) -> ClientConnection:
    target = f"{ws_url}?token={token}" if token else ws_url
    # No keepalive pings: they would be extra traffic inside the measurement, and no run idles long enough to need one.
    return await connect(target, open_timeout=OPEN_TIMEOUT_S, ping_interval=None, max_size=None)


@dataclass(slots=True)
class Exchange:
    """One request and the frames that came back, with client-side times."""

    sent_at: float = 0.0
    frames: list[Received] = field(default_factory=list)
    timed_out: bool = False


async def exchange(ws: ClientConnection, message: dict[str, Any], protocol: Protocol, timeout_s: float) -> Exchange:
    """Send `message` and collect frames until the answer's terminal frame (or `timeout_s`)."""
    result = Exchange()
    payload = json.dumps(message)
    deadline = time.monotonic() + timeout_s
    result.sent_at = time.monotonic()
    await ws.send(payload)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            result.timed_out = True
            return result
        try:
            data = await asyncio.wait_for(ws.recv(), remaining)
        except TimeoutError:
            result.timed_out = True
            return result
        received_at = time.monotonic()
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        result.frames.append(Received(received_at, text))
        if is_terminal(protocol, text):
            return result
