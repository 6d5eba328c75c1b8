"""The handshake: held until `$connect` answers, rejected like API Gateway, and the URL rules."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import RECV_TIMEOUT, Recorder


def _refused_status(ws_connect, url: str, **kwargs) -> int:
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, **kwargs)
    return refused.value.response.status_code


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_non_2xx_from_connect_rejects_the_handshake_with_that_status(
    gateway_for, ws_connect, recorder: Recorder, status: int
) -> None:
    handle = gateway_for({"$connect": recorder.handler({"statusCode": status}), "$disconnect": recorder.handler()})
    assert _refused_status(ws_connect, handle.ws_url) == status
    assert len(recorder.wait_for("$connect")) == 1
    assert recorder.of("$disconnect") == []  # never connected, so never disconnected


def test_connect_may_return_nothing_or_a_string_status(gateway_for, ws_connect, recorder: Recorder) -> None:
    handle = gateway_for({"$connect": recorder.handler(None), "$default": recorder.handler()})
    ws_connect(handle.ws_url).send("hi")
    recorder.wait_for("$default")
    handle = gateway_for({"$connect": recorder.handler({"statusCode": "200"}), "$default": recorder.handler()})
    ws_connect(handle.ws_url).send("hi")
    recorder.wait_for("$default", 2)


def test_crashing_connect_gives_502_and_a_traceback(gateway_for, ws_connect, caplog) -> None:
    def crash(event, context):
        raise ValueError("no table")

    handle = gateway_for({"$connect": crash})
    with caplog.at_level(logging.INFO, logger="localgw"):
        assert _refused_status(ws_connect, handle.ws_url) == 502
    assert any("ValueError: no table" in record.getMessage() for record in caplog.records)


def test_connect_can_accept_a_subprotocol(gateway_for, ws_connect) -> None:
    def accept(event, context):
        offered = event["headers"]["Sec-WebSocket-Protocol"].split(",")[0].strip()
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": offered}}

    handle = gateway_for({"$connect": accept})
    ws = ws_connect(handle.ws_url, subprotocols=["token.abc", "other"])
    assert ws.subprotocol == "token.abc"


def test_posting_to_a_connection_during_its_connect_is_gone(gateway_for, ws_connect, management_client) -> None:
    # API Gateway only knows the connection once $connect has returned (AWS re:Post "410 GoneException").
    outcomes: list[str] = []

    def connect(event, context):
        client = management_client(handle)
        try:
            client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=b"too early")
            outcomes.append("delivered")
        except client.exceptions.GoneException:
            outcomes.append("gone")
        return {"statusCode": 200}

    handle = gateway_for({"$connect": connect, "$default": lambda e, c: None})
    ws = ws_connect(handle.ws_url)
    assert outcomes == ["gone"]
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.2)


def test_unknown_stage_is_forbidden(gateway_for, ws_connect) -> None:
    handle = gateway_for({"$default": lambda e, c: None})
    assert _refused_status(ws_connect, handle.url.replace("http", "ws") + "/prod") == 403
    assert _refused_status(ws_connect, handle.url.replace("http", "ws") + "/") == 403


def test_plain_http_on_the_websocket_url_asks_for_an_upgrade(gateway_for) -> None:
    handle = gateway_for({"$default": lambda e, c: None})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(handle.ws_url.replace("ws://", "http://"), timeout=RECV_TIMEOUT)
    assert answer.value.code == 426


def test_connections_api_on_an_unknown_stage_is_forbidden(gateway_for, ws_connect, management_client) -> None:
    handle = gateway_for({"$default": lambda e, c: None})
    client = management_client(handle)
    client.meta.events.register(
        "before-send", lambda request, **kw: setattr(request, "url", request.url.replace("/dev/", "/prod/"))
    )
    with pytest.raises(client.exceptions.ForbiddenException):
        client.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")


def test_without_connect_route_the_handshake_is_accepted(gateway_for, ws_connect, recorder: Recorder) -> None:
    handle = gateway_for({"$default": recorder.handler()})
    ws_connect(handle.ws_url).send(json.dumps({"action": "x"}))
    assert recorder.wait_for("$default")[0]["body"] == '{"action": "x"}'
