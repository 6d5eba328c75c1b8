"""A scripted relay that speaks protocol v2 as issues 14 and 15 write it (models with capabilities, `reasoning` and
`tool_use` frames, `sendtext` parts, `attach` with a presigned-POST-like upload endpoint), for testing how the page
renders and answers those frames before — and independently of — the real relay's implementation.

It is a script, not a relay: one conversation, answers decided by the request's fields. Every message it receives
is kept on `received` so tests can check what the page sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from websockets.sync.server import ServerConnection, serve

MODEL = {"id": "scripted", "provider": "script", "default": True, "tools": True, "reasoning": True}
REASONING_WORDS = ["Let", "me", "look", "at", "the", "clock", "first."]


@dataclass
class ScriptedRelay:
    ws_url: str = ""
    upload_url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[bytes] = field(default_factory=list)
    _parts: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)

    def handle(self, connection: ServerConnection) -> None:
        for data in connection:
            message = json.loads(data)
            self.received.append(message)
            for frame in self.reply(message):
                connection.send(json.dumps(frame))

    def reply(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        action = message.get("action")
        if action == "models":
            return [{"type": "models", "models": [{**MODEL, "attachments": ["image", "document"]}]}]
        if action == "conversations":
            return [{"type": "conversations", "conversations": [], "next": None}]
        if action == "attach":
            number = len(self.uploads) + 1
            fields = {"key": f"user/{number}", "policy": "scripted"}
            return [{"type": "upload", "attachmentId": f"att-{number}", "url": self.upload_url, "fields": fields,
                     "expiresIn": 300}]  # fmt: skip
        if action == "sendtext":
            whole = self.joined(message)
            return self.answer(whole) if whole else []
        return []

    def joined(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The whole sendtext once every part is in (a message without parts is whole)."""
        if "parts" not in message:
            return message
        parts = self._parts.setdefault(message["requestId"], {})
        parts[message["part"]] = message
        if len(parts) < message["parts"]:
            return None
        ordered = [parts[index] for index in range(message["parts"])]
        return {**ordered[0], "text": "".join(part["text"] for part in ordered)}

    def answer(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        request_id = request["requestId"]
        frames: list[dict[str, Any]] = [{"type": "start", "model": "scripted", "conversationId": "conv-1"}]
        stop = "end_turn"
        if request.get("reasoning"):
            frames += [{"type": "reasoning", "text": (" " if i else "") + w} for i, w in enumerate(REASONING_WORDS)]
        if request.get("toolResults"):
            result = request["toolResults"][0]
            content = result["content"] if isinstance(result["content"], str) else json.dumps(result["content"])
            frames.append({"type": "delta", "text": f"Turn 2. Tool browser_clock returned: {content}"})
        elif request.get("tools"):
            frames.append({"type": "tool_use", "toolUseId": "tool-1", "name": request["tools"][0]["name"], "input": {}})
            stop = "tool_use"
        else:
            seen = "".join(f"[{attachment}] " for attachment in request.get("attachments") or [])
            text = request.get("text", "")
            said = text if len(text) <= 1000 else f"{len(text)} characters, ending {text[-20:]!r}"  # frames ≤ 32 KB
            frames.append({"type": "delta", "text": f"{seen}Turn 1. You said: {said}"})
        frames.append({"type": "done", "stopReason": stop, "usage": {"inputTokens": 3, "outputTokens": 5}})
        return [{**frame, "requestId": request_id, "seq": seq} for seq, frame in enumerate(frames)]


class _Uploads(BaseHTTPRequestHandler):
    relay: ScriptedRelay

    def do_POST(self) -> None:
        self.relay.uploads.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")  # S3's CORS rule for the web client's origin
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def scripted_relay() -> Iterator[ScriptedRelay]:
    relay = ScriptedRelay()
    server = serve(relay.handle, "127.0.0.1", 0)
    uploads = ThreadingHTTPServer(("127.0.0.1", 0), type("Uploads", (_Uploads,), {"relay": relay}))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (server, uploads)]
    for thread in threads:
        thread.start()
    relay.ws_url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/dev"
    relay.upload_url = f"http://127.0.0.1:{uploads.server_address[1]}/bucket"
    try:
        yield relay
    finally:
        server.shutdown()
        uploads.shutdown()
        uploads.server_close()
