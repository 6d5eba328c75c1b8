"""Issue 15 in Chromium: a long paste goes out in parts that each fit a frame, on the same connection, and a page
that cannot keep a connection gives up visibly instead of looping.

The first test's last assertions (one answer that saw every word) need the relay's parts (issue 15, branch
s1-long-input): against a relay without them the page shows the relay's refusal instead — no loop, no 1009 — and
the test fails there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from tests.web.conftest import send_message, wait_finished

FAST = "[[sim rate=100000 ttft=0]]"
FRAME_LIMIT_BYTES = 32 * 1024


def watch_sockets(page: Any, sockets: list[Any], sent: list[str]) -> None:
    def on_socket(socket: Any) -> None:
        sockets.append(socket)
        socket.on("framesent", lambda payload: sent.append(payload if isinstance(payload, str) else payload.decode()))

    page.on("websocket", on_socket)


def test_200000_characters_of_cjk_and_emoji_go_in_parts_on_one_connection_and_get_one_answer(open_page):
    sockets: list[Any] = []
    sent: list[str] = []
    page = open_page(before_goto=lambda page: watch_sockets(page, sockets, sent))
    words: list[str] = []
    length = 0
    while length < 200_000 - 40:
        word = ("日本語", "中文🇯🇵", "emoji👍🏽")[len(words) % 3] + str(len(words))
        words.append(word)
        length += len(word) + 1
    text = " ".join(words) + f" {FAST}"
    answer = send_message(page, text)
    state = wait_finished(answer)

    sendtexts = [frame for frame in sent if '"action":"sendtext"' in frame]
    sizes = [len(frame.encode("utf-8")) for frame in sent]
    assert len(sendtexts) > 1 and all('"parts":' in frame for frame in sendtexts), "sent in parts"
    assert max(sizes) < FRAME_LIMIT_BYTES, f"largest frame {max(sizes)} bytes"
    assert len(sockets) == 1, "the connection was never closed and reopened"
    assert page.locator("#status").text_content() == "connected"
    assert state == "done", answer.locator(".answer-error").text_content()
    meta = answer.locator(".answer-meta").text_content()
    assert f"{len(words)} in /" in meta, meta
    assert answer.locator(".markdown").text_content().startswith("Turn 1. You said: " + " ".join(words[:5]))
    assert page.problems == []


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[int]]]:
    """A WebSocket server that accepts every connection and closes it at once; yields (port, [connection count])."""
    count = [0]

    def handler(connection: ServerConnection) -> None:
        count[0] += 1
        connection.close(1011, "go away")

    server: Server = serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.socket.getsockname()[1], count
    server.shutdown()
    thread.join(5)


def test_a_connection_closed_at_every_open_ends_in_a_visible_offline_banner_not_a_loop(open_page, closing_server):
    port, connections = closing_server

    def point_at_the_closing_server(page: Any) -> None:
        def handle(route: Any) -> None:
            response = route.fetch()
            config = response.json()
            config["wsUrl"] = f"ws://127.0.0.1:{port}/dev"
            config["reconnect"] = {"baseDelayMs": 20, "maxDelayMs": 50, "maxAttempts": 3}
            route.fulfill(response=response, json=config)

        page.route("**/config.json", handle)

    page = open_page(wait_connected=False, before_goto=point_at_the_closing_server)
    page.wait_for_selector("#status[data-state=offline]")
    assert "Cannot reach the relay" in page.locator("#banner-text").text_content()
    assert page.locator("#banner-action").text_content() == "Reconnect"
    assert connections[0] == 3
    time.sleep(0.5)
    assert connections[0] == 3, "no attempt after giving up"
    assert page.locator("#send").is_disabled()

    page.click("#banner-action")  # the reader asks again: another bounded round
    page.wait_for_function("() => document.getElementById('banner').hidden === false")
    page.wait_for_selector("#status[data-state=offline]")
    deadline = time.monotonic() + 5
    while connections[0] < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert connections[0] == 6
