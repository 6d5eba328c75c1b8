"""The events and context the handlers receive: Powertools' models, REFERENCE.md, and real AWS samples."""

from __future__ import annotations

import re
import socket
import time

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)

from localgw.events import request_time
from tests.conftest import Recorder

AWS_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")
REQUEST_TIME = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")


@pytest.fixture
def lifecycle(gateway_for, recorder: Recorder):
    """A gateway with $connect, $default and $disconnect, all recording."""
    return gateway_for(
        {"$connect": recorder.handler(), "$default": recorder.handler(), "$disconnect": recorder.handler()}
    )


def test_request_time_format() -> None:
    assert request_time(1674162806000) == "19/Jan/2023:21:13:26 +0000"


def test_connect_event(lifecycle, ws_connect, recorder: Recorder) -> None:
    before = int(time.time() * 1000)
    ws_connect(lifecycle.ws_url, query="token=abc&tag=a&tag=b", headers={"Authorization": "Bearer x"})
    event = recorder.wait_for("$connect")[0]

    APIGatewayWebSocketConnectEventModel.model_validate(event)
    context = event["requestContext"]
    assert context["eventType"] == "CONNECT" and context["messageDirection"] == "IN"
    assert AWS_ID.match(context["connectionId"]) and AWS_ID.match(context["requestId"])
    assert context["extendedRequestId"] == context["requestId"]
    assert before - 1000 <= context["connectedAt"] <= context["requestTimeEpoch"] <= before + 60_000
    assert REQUEST_TIME.match(context["requestTime"])
    assert context["stage"] == lifecycle.stage
    assert context["domainName"] == lifecycle.url.removeprefix("http://")
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"].startswith("Python/")
    assert "messageId" not in context and "authorizer" not in context
    assert event["isBase64Encoded"] is False
    assert event["queryStringParameters"] == {"token": "abc", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"token": ["abc"], "tag": ["a", "b"]}
    assert event["headers"]["Authorization"] == "Bearer x"
    assert event["multiValueHeaders"]["Authorization"] == ["Bearer x"]
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert "Connection" not in event["headers"] and "Upgrade" not in event["headers"]


def test_connect_event_without_query_string_has_no_query_keys(lifecycle, ws_connect, recorder: Recorder) -> None:
    ws_connect(lifecycle.ws_url)
    event = recorder.wait_for("$connect")[0]
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event


def test_message_event(lifecycle, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(lifecycle.ws_url, query="token=abc")
    ws.send('{"action": "anything", "text": "héllo"}')
    connect = recorder.wait_for("$connect")[0]
    event = recorder.wait_for("$default")[0]

    APIGatewayWebSocketMessageEventModel.model_validate(event)
    context = event["requestContext"]
    assert context["eventType"] == "MESSAGE" and context["routeKey"] == "$default"
    assert AWS_ID.match(context["messageId"]) and AWS_ID.match(context["requestId"])
    assert context["messageId"] != context["requestId"]
    assert context["connectionId"] == connect["requestContext"]["connectionId"]
    assert context["connectedAt"] == connect["requestContext"]["connectedAt"]
    assert context["requestId"] != connect["requestContext"]["requestId"]
    assert event["body"] == '{"action": "anything", "text": "héllo"}'
    assert event["isBase64Encoded"] is False
    for absent in ("headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"):
        assert absent not in event
    assert set(context["identity"]) == {"sourceIp"}


def test_disconnect_event_for_a_close_frame_without_status(lifecycle, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(lifecycle.ws_url)
    ws.close(code=None)  # an empty close frame: no status code
    event = recorder.wait_for("$disconnect")[0]

    APIGatewayWebSocketDisconnectEventModel.model_validate(event)
    context = event["requestContext"]
    assert context["disconnectStatusCode"] == 1005
    assert context["disconnectReason"] == "Client-side close frame status not set"
    assert context["eventType"] == "DISCONNECT"
    assert set(event["headers"]) == {"Host", "x-api-key", "X-Forwarded-For", "x-restapi"}
    assert "queryStringParameters" not in event and "body" not in event


def test_disconnect_event_carries_the_clients_code_and_reason(lifecycle, ws_connect, recorder: Recorder) -> None:
    ws_connect(lifecycle.ws_url).close(code=4000, reason="user left")
    ws_connect(lifecycle.ws_url).close()
    events = recorder.wait_for("$disconnect", 2)
    seen = {(e["requestContext"]["disconnectStatusCode"], e["requestContext"]["disconnectReason"]) for e in events}
    assert seen == {(4000, "user left"), (1000, "Connection Closed Normally")}


def test_disconnect_runs_after_the_socket_is_closed(gateway_for, ws_connect, management_client) -> None:
    # GIVEN a $disconnect handler that asks @connections about its own connection
    answers: list[str] = []

    def disconnect(event, context):
        client = management_client(handle)
        try:
            client.get_connection(ConnectionId=event["requestContext"]["connectionId"])
            answers.append("still open")
        except client.exceptions.GoneException:
            answers.append("gone")

    handle = gateway_for({"$default": lambda e, c: None, "$disconnect": disconnect})
    ws_connect(handle.ws_url).close()
    deadline = time.monotonic() + 10
    while not answers and time.monotonic() < deadline:
        time.sleep(0.02)
    # THEN the connection was already gone when $disconnect ran
    assert answers == ["gone"]


def test_lambda_context(gateway_for, ws_connect, recorder: Recorder) -> None:
    remaining: list[int] = []

    def sendtext(event, context):
        remaining.append(context.get_remaining_time_in_millis())
        return recorder.handler()(event, context)

    handle = gateway_for(
        {"$default": recorder.handler(), "sendtext": sendtext},
        streaming=("sendtext",),
        streaming_timeout_seconds=3,
        function_timeout_seconds=5,
    )
    ws = ws_connect(handle.ws_url)
    ws.send('{"action": "sendtext"}')
    ws.send("other")
    recorder.wait_for("sendtext")
    recorder.wait_for("$default")
    by_route = {
        event["requestContext"]["routeKey"]: context
        for event, context in zip(recorder.events, recorder.contexts, strict=True)
    }

    streaming, default = by_route["sendtext"], by_route["$default"]
    assert streaming.function_name == "WsRelay-Sendtext"
    assert streaming.invoked_function_arn == f"arn:aws:lambda:{handle.region}:123456789012:function:WsRelay-Sendtext"
    assert streaming.log_group_name == "/aws/lambda/WsRelay-Sendtext"
    assert streaming.memory_limit_in_mb == 256
    assert re.fullmatch(r"[0-9a-f-]{36}", streaming.aws_request_id)
    assert streaming.aws_request_id != default.aws_request_id
    assert 0 < remaining[0] <= 3000
    assert 3000 < default.get_remaining_time_in_millis() <= 5000


def test_remaining_time_never_goes_negative(gateway_for, ws_connect) -> None:
    seen: list[int] = []

    def slow(event, context):
        time.sleep(0.3)
        seen.append(context.get_remaining_time_in_millis())

    handle = gateway_for({"$default": slow}, function_timeout_seconds=0.1)
    ws = ws_connect(handle.ws_url)
    ws.send("x")
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.02)
    assert seen == [0]


def test_ids_are_fresh_per_connection(lifecycle, ws_connect, recorder: Recorder) -> None:
    ws_connect(lifecycle.ws_url)
    ws_connect(lifecycle.ws_url)
    first, second = recorder.wait_for("$connect", 2)
    assert first["requestContext"]["connectionId"] != second["requestContext"]["connectionId"]
    assert first["requestContext"]["apiId"] == second["requestContext"]["apiId"]


def test_disconnect_event_for_a_dropped_tcp_connection(lifecycle, ws_connect, recorder: Recorder) -> None:
    ws = ws_connect(lifecycle.ws_url)
    ws.socket.shutdown(socket.SHUT_RDWR)  # gone without a close frame
    context = recorder.wait_for("$disconnect")[0]["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1006, "Connection closed abnormally")
