"""Route selection: `$request.body.action`, `$default`, the Forbidden frame, and handler crashes."""

from __future__ import annotations

import json
import logging

import pytest

from localgw.routing import select_route, selection_path
from tests.conftest import RECV_TIMEOUT, Recorder

ACTION = selection_path("$request.body.action")
KEYS = {"$connect", "$disconnect", "$default", "sendtext", "123", "true"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "sendtext"}', "sendtext"),
        ("not json", "$default"),
        ('["sendtext"]', "$default"),
        ('"sendtext"', "$default"),
        ('{"text": "hi"}', "$default"),
        ('{"action": "unknown"}', "$default"),
        ('{"action": null}', "$default"),
        ('{"action": 123}', "123"),
        ('{"action": true}', "true"),
        ('{"action": "$connect"}', "$default"),
        ('{"action": "$disconnect"}', "$default"),
        ('{"action": "SendText"}', "$default"),
        ("", "$default"),
    ],
    ids=[
        "named-route",
        "non-json",
        "json-array",
        "json-string",
        "missing-key",
        "unknown-action",
        "null-action",
        "number-is-stringified",
        "boolean-is-stringified",
        "reserved-connect",
        "reserved-disconnect",
        "case-sensitive",
        "empty-body",
    ],
)
def test_selection_follows_api_gateway(body: str, expected: str) -> None:
    assert select_route(body, KEYS, ACTION) == expected


def test_no_route_and_no_default_selects_nothing() -> None:
    assert select_route('{"action": "nope"}', {"sendtext"}, ACTION) is None


def test_nested_selection_expression() -> None:
    path = selection_path("$request.body.meta.route")
    assert select_route('{"meta": {"route": "sendtext"}}', {"sendtext"}, path) == "sendtext"


def test_header_selection_expressions_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported route selection expression"):
        selection_path("$request.header.action")


def test_messages_reach_the_selected_routes(gateway_for, ws_connect, recorder: Recorder) -> None:
    # GIVEN routes $default, sendtext and a numeric route "123"
    handle = gateway_for({"$default": recorder.handler(), "sendtext": recorder.handler(), "123": recorder.handler()})
    ws = ws_connect(handle.ws_url)

    # WHEN the client sends each kind of body
    ws.send('{"action": "sendtext", "text": "hi"}')
    ws.send("plain text")
    ws.send('{"action": 123}')
    ws.send('{"action": "other"}')

    # THEN each reaches its route, with the frame text as body
    assert [e["body"] for e in recorder.wait_for("sendtext")] == ['{"action": "sendtext", "text": "hi"}']
    assert [e["body"] for e in recorder.wait_for("123")] == ['{"action": 123}']
    assert sorted(e["body"] for e in recorder.wait_for("$default", 2)) == sorted(['{"action": "other"}', "plain text"])


def test_no_route_and_no_default_answers_forbidden_frame(gateway_for, ws_connect, recorder: Recorder) -> None:
    handle = gateway_for({"sendtext": recorder.handler()})
    ws = ws_connect(handle.ws_url)

    ws.send('{"action": "nope"}')

    frame = json.loads(ws.recv(timeout=RECV_TIMEOUT))
    assert frame["message"] == "Forbidden"
    assert len(frame["connectionId"]) == 16 and frame["connectionId"].endswith("=")
    assert len(frame["requestId"]) == 16
    assert set(frame) == {"message", "connectionId", "requestId"}
    # and the connection stays usable
    ws.send('{"action": "sendtext"}')
    assert recorder.wait_for("sendtext")[0]["requestContext"]["connectionId"] == frame["connectionId"]


def test_crashing_route_answers_internal_server_error_and_prints_traceback(
    gateway_for, ws_connect, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(event, context):
        raise RuntimeError("boom in the handler")

    handle = gateway_for({"$default": crash})
    ws = ws_connect(handle.ws_url)

    with caplog.at_level(logging.INFO, logger="localgw"):
        ws.send("hello")
        frame = json.loads(ws.recv(timeout=RECV_TIMEOUT))

    assert frame["message"] == "Internal server error"
    assert len(frame["requestId"]) == 16 and len(frame["connectionId"]) == 16
    assert any("RuntimeError: boom in the handler" in record.getMessage() for record in caplog.records)
    # the connection survives a crashing invocation
    ws.send("again")
    assert json.loads(ws.recv(timeout=RECV_TIMEOUT))["message"] == "Internal server error"


def test_return_value_is_not_sent_to_the_client(gateway_for, ws_connect, recorder: Recorder) -> None:
    # Routes without a route response: API Gateway drops the Lambda's return value.
    handle = gateway_for({"$default": recorder.handler({"statusCode": 200, "body": "should not arrive"})})
    ws = ws_connect(handle.ws_url)
    ws.send("one")
    recorder.wait_for("$default")
    ws.send('{"action": "nope"}')  # still routed to $default: nothing comes back either
    recorder.wait_for("$default", 2)
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.3)


# Issue 13: a body nested too deeply to evaluate goes to $default (as on API Gateway), never a dropped connection.

DEEP = {
    "array-1000": "[" * 1_000 + "]" * 1_000,
    "action-1000": '{"action":' + "[" * 1_000 + "]" * 1_000 + "}",
    "sibling-1000": '{"action":"sendtext","x":' + "[" * 1_000 + "]" * 1_000 + "}",
    "unclosed-100000": "[" * 100_000,
}


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
def test_a_body_too_deep_to_evaluate_selects_default(body: str) -> None:
    assert select_route(body, KEYS, ACTION) == "$default"


def test_a_deep_message_reaches_default_and_the_connection_stays_open(
    gateway_for, ws_connect, recorder: Recorder
) -> None:
    handle = gateway_for({"$default": recorder.handler(), "sendtext": recorder.handler()})
    ws = ws_connect(handle.ws_url)
    deep = '{"action":"sendtext","x":' + "[" * 60_000 + "]" * 60_000 + "}"  # 120 KB, in 30,000-character fragments

    ws.send("[" * 1_000 + "]" * 1_000)
    ws.send([deep[at : at + 30_000] for at in range(0, len(deep), 30_000)])
    ws.send('{"action": "sendtext"}')

    assert [len(e["body"]) for e in recorder.wait_for("$default", 2)] == [2_000, len(deep)]
    assert recorder.wait_for("sendtext")[0]["body"] == '{"action": "sendtext"}'
