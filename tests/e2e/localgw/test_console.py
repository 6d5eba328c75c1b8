"""What the person at the terminal sees: one line per connect, route and disconnect, with posts per invocation."""

from __future__ import annotations

import logging
import re
import time

import pytest

from tests.conftest import RECV_TIMEOUT, Recorder


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="localgw")

    def read(pattern: str, timeout: float = RECV_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for record in caplog.records:
                if re.search(pattern, record.getMessage()):
                    return record.getMessage()
            time.sleep(0.02)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(r.getMessage() for r in caplog.records))

    return read


def test_each_invocation_reports_the_frames_it_posted(gateway_for, ws_connect, management_client, lines) -> None:
    def answer(event, context):
        client = management_client(handle)
        for chunk in (b"one", b"two", b"three"):
            client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=chunk)

    handle = gateway_for({"sendtext": answer, "$disconnect": lambda e, c: None}, streaming=("sendtext",))
    ws = ws_connect(handle.ws_url)
    ws.send('{"action": "sendtext"}')
    assert [ws.recv(timeout=RECV_TIMEOUT) for _ in range(3)] == ["one", "two", "three"]
    ws.close()

    assert re.search(r"^CONNECT +\S{16} +from 127\.0\.0\.1", lines("CONNECT"))
    routed = lines(r"sendtext ·")
    assert re.search(r"^MESSAGE +\S{16} +sendtext · WsRelay-Sendtext \d+ ms · posted 3 frames / 11 B$", routed)
    assert re.search(r"^DISCONNECT +\S{16} +1000 Connection Closed Normally", lines("DISCONNECT"))


def test_refused_posts_are_counted_in_the_summary(gateway_for, ws_connect, management_client, lines) -> None:
    def answer(event, context):
        client = management_client(handle)
        connection_id = event["requestContext"]["connectionId"]
        client.post_to_connection(ConnectionId=connection_id, Data=b"ok")
        handle.faults.throttle_rate = 1.0
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=b"refused")
        except client.exceptions.LimitExceededException:
            pass
        finally:
            handle.faults.throttle_rate = 0.0

    handle = gateway_for({"$default": answer})
    ws_connect(handle.ws_url).send("go")
    assert "posted 1 frame / 2 B (1 throttled)" in lines("posted")


def test_an_invocation_over_its_timeout_is_flagged(gateway_for, ws_connect, lines) -> None:
    handle = gateway_for({"$default": lambda e, c: time.sleep(0.3)}, function_timeout_seconds=0.1)
    ws_connect(handle.ws_url).send("slow")
    assert "Lambda would have stopped it" in lines("over its")


def test_rejections_say_why(gateway_for, ws_connect, lines, recorder: Recorder) -> None:
    handle = gateway_for({"$connect": recorder.handler({"statusCode": 403})})
    with pytest.raises(Exception, match="403"):
        ws_connect(handle.ws_url)
    assert "handshake answered 403: $connect returned statusCode 403" in lines("REJECT")


def test_connect_timeout_is_504(gateway_for, ws_connect, lines) -> None:
    handle = gateway_for({"$connect": lambda e, c: time.sleep(1)}, integration_timeout_seconds=0.2)
    with pytest.raises(Exception, match="504"):
        ws_connect(handle.ws_url)
    assert "past the 0.2 s integration timeout" in lines("REJECT")


def test_an_answers_summary_counts_the_tokens_its_done_frame_reports(
    gateway_for, ws_connect, management_client, lines
) -> None:
    def answer(event, context):
        client = management_client(handle)
        connection_id = event["requestContext"]["connectionId"]
        client.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"delta","seq":1,"text":"done"}')
        client.post_to_connection(
            ConnectionId=connection_id, Data=b'{"type":"done","seq":2,"usage":{"inputTokens":3,"outputTokens":41}}'
        )

    handle = gateway_for({"sendtext": answer, "$disconnect": lambda e, c: None}, streaming=("sendtext",))
    ws = ws_connect(handle.ws_url)
    ws.send('{"action": "sendtext"}')
    for _ in range(2):
        ws.recv(timeout=RECV_TIMEOUT)
    ws.close()

    # a delta whose text happens to say "done" is not counted: only the done frame's usage is
    assert re.search(r"sendtext · WsRelay-Sendtext \d+ ms · 41 tokens · posted 2 frames / \d+ B$", lines("sendtext ·"))
