"""API Gateway's limits: binary frames, message and frame sizes, idle timeout and maximum connection time."""

from __future__ import annotations

import contextlib
import time

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import RECV_TIMEOUT, Recorder

KB = 1024


@pytest.fixture
def echo_gateway(gateway_for, recorder: Recorder):
    def start(**options):
        return gateway_for({"$default": recorder.handler(), "$disconnect": recorder.handler()}, **options)

    return start


def _close_of(ws) -> tuple[int, str]:
    """Wait for the server's close frame and return its code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=RECV_TIMEOUT)
    assert closed.value.rcvd is not None, "the server closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def _disconnect_status(recorder: Recorder) -> tuple[int, str]:
    context = recorder.wait_for("$disconnect")[0]["requestContext"]
    return context["disconnectStatusCode"], context["disconnectReason"]


def test_binary_frame_closes_with_1003(echo_gateway, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(echo_gateway().ws_url)
    ws.send(b"\x00\x01binary")
    assert _close_of(ws)[0] == 1003
    assert _disconnect_status(recorder)[0] == 1003
    assert recorder.of("$default") == []


def test_message_of_exactly_128_kb_in_32_kb_frames_is_accepted(echo_gateway, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(echo_gateway().ws_url)
    ws.send(["a" * (32 * KB)] * 4)  # one message, four fragments
    assert len(recorder.wait_for("$default")[0]["body"]) == 128 * KB


def test_message_over_128_kb_closes_with_1009(echo_gateway, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(echo_gateway().ws_url)
    # Every frame within 32 KB, the message one byte over. The gateway's close can reach the client while it is
    # still sending the last fragment: then send() itself reports the closed connection.
    with contextlib.suppress(ConnectionClosed):
        ws.send(["a" * (32 * KB)] * 4 + ["a"])
    assert _close_of(ws)[0] == 1009
    assert _disconnect_status(recorder) == (1009, "Message too big")
    assert recorder.of("$default") == []


def test_frame_of_32_kb_is_accepted(echo_gateway, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(echo_gateway().ws_url)
    ws.send("b" * (32 * KB))
    assert len(recorder.wait_for("$default")[0]["body"]) == 32 * KB


def test_frame_over_32_kb_closes_with_1009(echo_gateway, ws_connect, recorder: Recorder) -> None:
    # This relies on aiohttp internals (localgw/frames.py): if it fails after an aiohttp upgrade, see that module.
    ws = ws_connect(echo_gateway().ws_url)
    ws.send("small first")
    recorder.wait_for("$default")
    ws.send("c" * (32 * KB + 1))  # a single frame, well under the message limit
    assert _close_of(ws)[0] == 1009
    assert _disconnect_status(recorder)[0] == 1009
    assert len(recorder.of("$default")) == 1


def test_frame_limit_can_be_turned_off(echo_gateway, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(echo_gateway(max_frame_bytes=None).ws_url)
    ws.send("c" * (100 * KB))
    assert len(recorder.wait_for("$default")[0]["body"]) == 100 * KB


def test_idle_connection_is_closed_by_the_server(echo_gateway, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(echo_gateway(idle_timeout_seconds=0.5).ws_url)
    assert _close_of(ws) == (1001, "Going away")
    assert _disconnect_status(recorder) == (1001, "Going away")


def test_messages_keep_a_connection_from_idling(echo_gateway, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(echo_gateway(idle_timeout_seconds=1.5).ws_url)
    for _ in range(12):  # 2.4 s of traffic, a message every 0.2 s: well inside the 1.5 s idle window
        ws.send("ping")
        time.sleep(0.2)
    assert recorder.of("$disconnect") == []
    assert _close_of(ws)[0] == 1001  # and once quiet, it idles out


def test_connection_is_closed_at_its_maximum_duration_even_when_busy(
    echo_gateway, ws_connect, recorder: Recorder
) -> None:
    ws = ws_connect(echo_gateway(max_connection_seconds=1.0).ws_url)
    started = time.monotonic()
    with pytest.raises(ConnectionClosed) as closed:
        while time.monotonic() - started < RECV_TIMEOUT:
            ws.send("busy")
            time.sleep(0.1)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert _disconnect_status(recorder)[0] == 1001
