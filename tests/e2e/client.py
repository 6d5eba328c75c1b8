"""A test client for the relay over a real WebSocket: send a message, collect an answer's frames."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from localgw.simulator import SimConversation, plan_reply
from tests.conftest import RECV_TIMEOUT

TERMINAL = ("done", "error")


def send(ws: Any, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message))


def recv(ws: Any, timeout: float = RECV_TIMEOUT) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def collect(ws: Any, timeout: float = RECV_TIMEOUT) -> list[dict[str, Any]]:
    """Frames up to and including the first terminal frame (or a refusal without seq)."""
    frames = [recv(ws, timeout)]
    while frames[-1].get("type") not in TERMINAL:
        frames.append(recv(ws, timeout))
    return frames


def ask(ws: Any, text: str, **fields: Any) -> list[dict[str, Any]]:
    send(ws, {"action": "sendtext", "text": text, **fields})
    return collect(ws)


def answer_text(frames: list[dict[str, Any]]) -> str:
    return "".join(frame["text"] for frame in frames if frame["type"] == "delta")


def expected_reply(text: str, max_tokens: int | None = None) -> Any:
    """What the simulator streams for a one-turn conversation: the oracle for text and usage."""
    return plan_reply(SimConversation.of(("user", text), max_tokens=max_tokens))


def simulator_records(base_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{base_url}/_sim/requests", timeout=RECV_TIMEOUT) as response:
        return json.loads(response.read())["requests"]
