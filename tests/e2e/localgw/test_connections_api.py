"""The @connections management API through a real boto3 apigatewaymanagementapi client."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import RECV_TIMEOUT, Recorder

KB = 1024
NEVER_EXISTED = "AAAAAAAAAAAAAAA="


@pytest.fixture
def gateway(gateway_for, recorder: Recorder):
    return gateway_for(
        {"$connect": recorder.handler(), "$default": recorder.handler(), "$disconnect": recorder.handler()}
    )


@pytest.fixture
def client(gateway, management_client):
    return management_client(gateway)


def _connect(gateway, ws_connect, recorder: Recorder, **kwargs):
    """Open a client and return it with its connection id (read from its $connect event)."""
    already = len(recorder.of("$connect"))
    ws = ws_connect(gateway.ws_url, **kwargs)
    events = recorder.wait_for("$connect", already + 1)
    return ws, events[-1]["requestContext"]["connectionId"]


def test_post_delivers_each_call_as_one_text_frame_in_order(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    for index in range(5):
        client.post_to_connection(ConnectionId=connection_id, Data=json.dumps({"seq": index}).encode())
    assert [json.loads(ws.recv(timeout=RECV_TIMEOUT))["seq"] for _ in range(5)] == [0, 1, 2, 3, 4]
    tally = gateway.stats.posts(connection_id)
    assert (tally.frames, tally.bytes) == (5, sum(len(json.dumps({"seq": i})) for i in range(5)))


def test_post_of_exactly_128_kb_is_one_frame(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    client.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * KB))
    assert ws.recv(timeout=RECV_TIMEOUT) == "x" * (128 * KB)


def test_post_over_128_kb_is_payload_too_large(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    with pytest.raises(client.exceptions.PayloadTooLargeException):
        client.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * KB + 1))
    assert gateway.stats.posts(connection_id).too_large == 1
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.2)


def test_get_connection(gateway, client, ws_connect, recorder) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    ws, connection_id = _connect(gateway, ws_connect, recorder, user_agent_header="my-agent/1.0")
    first = client.get_connection(ConnectionId=connection_id)
    ws.send("activity")
    recorder.wait_for("$default")
    second = client.get_connection(ConnectionId=connection_id)

    assert first["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "my-agent/1.0"}
    assert before <= first["ConnectedAt"] <= first["LastActiveAt"] <= second["LastActiveAt"]
    assert second["ConnectedAt"] == first["ConnectedAt"]
    assert second["LastActiveAt"] > first["LastActiveAt"]


def test_delete_closes_the_connection_and_disconnect_follows(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    client.delete_connection(ConnectionId=connection_id)

    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=RECV_TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    context = recorder.wait_for("$disconnect")[0]["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1000, "Connection Closed Normally")
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=connection_id, Data=b"late")


def test_frames_posted_before_delete_are_delivered_first(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    client.post_to_connection(ConnectionId=connection_id, Data=b"last words")
    client.delete_connection(ConnectionId=connection_id)
    assert ws.recv(timeout=RECV_TIMEOUT) == "last words"


@pytest.mark.parametrize("operation", ["post", "get", "delete"])
def test_closed_and_never_existing_ids_are_gone(gateway, client, ws_connect, recorder, operation: str) -> None:
    ws, closed_id = _connect(gateway, ws_connect, recorder)
    ws.close()
    recorder.wait_for("$disconnect")
    calls = {
        "post": lambda cid: client.post_to_connection(ConnectionId=cid, Data=b"x"),
        "get": lambda cid: client.get_connection(ConnectionId=cid),
        "delete": lambda cid: client.delete_connection(ConnectionId=cid),
    }
    for connection_id in (closed_id, NEVER_EXISTED):
        with pytest.raises(client.exceptions.GoneException) as gone:
            calls[operation](connection_id)
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_botocore_url_encodes_the_id_and_the_gateway_decodes_it(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    assert connection_id.endswith("=")
    sent_urls: list[str] = []
    client.meta.events.register("before-send", lambda request, **kw: sent_urls.append(request.url))
    client.post_to_connection(ConnectionId=connection_id, Data=b"via boto3")
    assert sent_urls[0].endswith(connection_id.replace("=", "%3D"))
    # the same with a hand-made request, as any HTTP client would send it
    encoded = connection_id.replace("=", "%3D")
    request = urllib.request.Request(f"{gateway.connections_url}/@connections/{encoded}", data=b"raw", method="POST")
    with urllib.request.urlopen(request, timeout=RECV_TIMEOUT) as answer:
        assert answer.status == 200
    assert [ws.recv(timeout=RECV_TIMEOUT), ws.recv(timeout=RECV_TIMEOUT)] == ["via boto3", "raw"]


def test_errors_are_typed_for_any_client(gateway) -> None:
    request = urllib.request.Request(f"{gateway.connections_url}/@connections/{NEVER_EXISTED}", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=RECV_TIMEOUT)
    assert answer.value.code == 410
    assert answer.value.headers["x-amzn-ErrorType"] == "GoneException"
    assert "message" in json.loads(answer.value.read())


def test_post_429_rate_of_one_throttles_every_post(start_gateway, management_client, ws_connect, recorder) -> None:
    gateway = start_gateway(routes=(), post_429_rate=1.0)
    client = management_client(gateway)
    with pytest.raises(client.exceptions.LimitExceededException):
        client.post_to_connection(ConnectionId=NEVER_EXISTED, Data=b"x")
    assert gateway.stats.posts(NEVER_EXISTED).throttled == 1


def test_faults_can_be_changed_while_running(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    gateway.faults.throttle_rate = 1.0
    with pytest.raises(client.exceptions.LimitExceededException):
        client.post_to_connection(ConnectionId=connection_id, Data=b"throttled")
    gateway.faults.throttle_rate = 0.0
    client.post_to_connection(ConnectionId=connection_id, Data=b"delivered")
    assert ws.recv(timeout=RECV_TIMEOUT) == "delivered"


def test_throttling_draw_is_reproducible(gateway, client, ws_connect, recorder) -> None:
    _, connection_id = _connect(gateway, ws_connect, recorder)

    def outcomes() -> list[bool]:
        results = []
        for _ in range(20):
            try:
                client.post_to_connection(ConnectionId=connection_id, Data=b".")
                results.append(True)
            except client.exceptions.LimitExceededException:
                results.append(False)
        return results

    gateway.faults.throttle_rate = 0.5
    gateway.faults.reseed(7)
    first = outcomes()
    gateway.faults.reseed(7)
    assert outcomes() == first
    assert 0 < first.count(False) < 20


def test_standard_retries_absorb_occasional_throttling(gateway, management_client, ws_connect, recorder) -> None:
    # botocore's standard retry mode retries LimitExceededException: the relay's clients see it only when sustained.
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    gateway.faults.throttle_rate = 0.3
    gateway.faults.reseed(1)  # with this seed, 2 of the first 5 draws throttle
    retrying = management_client(gateway, attempts=10)
    for index in range(5):
        retrying.post_to_connection(ConnectionId=connection_id, Data=str(index).encode())
    assert [ws.recv(timeout=RECV_TIMEOUT) for _ in range(5)] == [str(i) for i in range(5)]
    assert gateway.stats.posts(connection_id).throttled > 0


def test_post_latency_is_added(gateway, client, ws_connect, recorder) -> None:
    ws, connection_id = _connect(gateway, ws_connect, recorder)
    gateway.faults.latency_ms = 300
    started = time.monotonic()
    client.post_to_connection(ConnectionId=connection_id, Data=b"slow")
    assert time.monotonic() - started >= 0.3
    assert ws.recv(timeout=RECV_TIMEOUT) == "slow"


def test_a_client_that_stops_reading_only_hurts_itself(gateway_for, management_client, ws_connect, recorder) -> None:
    # GIVEN a small per-client buffer and a client whose socket barely buffers and is never read
    gateway = gateway_for({"$connect": recorder.handler()}, client_buffer_bytes=64 * KB)
    client = management_client(gateway)
    sock = socket.create_connection(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ws_connect(gateway.ws_url, sock=sock, max_queue=1, close_timeout=1)  # it will never read the close reply
    stuck_id = recorder.wait_for("$connect")[0]["requestContext"]["connectionId"]
    healthy, healthy_id = _connect(gateway, ws_connect, recorder)

    # WHEN frames are posted to it until the gateway refuses
    refused = False
    for _ in range(2000):
        try:
            client.post_to_connection(ConnectionId=stuck_id, Data=b"z" * (30 * KB))
        except client.exceptions.LimitExceededException:
            refused = True
            break

    # THEN the gateway answers 429 (client-side buffer full) and other connections are served at once
    assert refused
    client.post_to_connection(ConnectionId=healthy_id, Data=b"still fine")
    assert healthy.recv(timeout=RECV_TIMEOUT) == "still fine"
