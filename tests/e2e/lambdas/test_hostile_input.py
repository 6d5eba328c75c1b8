"""Hostile messages (issue 13's adversarial pass), sent through localgw with a real WebSocket client.

Every case holds the same three promises: the client gets an answer (never a dropped connection), every frame of
it is within API Gateway's 32 KB frame quota however much of the message it echoes, and the socket still works.
docs/security.md, "Adversarial pass (issue 13)", lists each attack with the test here that proves it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.protocol import MAX_FRAME_BYTES
from tests.conftest import RECV_TIMEOUT
from tests.e2e.client import ask

KB = 1024
FRAGMENT_CHARS = 30_000
"""Every fragment under API Gateway's 32 KB frame quota; a message may still be up to 128 KB."""


def send_fragmented(ws: Any, message: str) -> None:
    """One WebSocket message, in fragments of at most FRAGMENT_CHARS (the messages here are ASCII)."""
    assert message.isascii() and len(message) <= 128 * KB
    if len(message) <= FRAGMENT_CHARS:
        ws.send(message)
    else:
        ws.send([message[at : at + FRAGMENT_CHARS] for at in range(0, len(message), FRAGMENT_CHARS)])


def reply_to(ws: Any, message: str) -> dict[str, Any]:
    """The one frame answering `message`, checked against the frame quota."""
    send_fragmented(ws, message)
    raw = ws.recv(timeout=RECV_TIMEOUT)
    assert isinstance(raw, str)
    size = len(raw.encode("utf-8"))
    assert size <= MAX_FRAME_BYTES, f"a {size}-byte frame: over the {MAX_FRAME_BYTES}-byte frame quota"
    return json.loads(raw)


def assert_still_usable(ws: Any) -> None:
    ws.send(json.dumps({"action": "models"}))
    assert json.loads(ws.recv(timeout=RECV_TIMEOUT))["type"] == "models"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# Item 3: error frames echo bounded pieces of the input, however big the input.
HUGE_ECHOES = {
    "action-array-30kb": json.dumps({"action": [1] * 10_000}),
    "action-string-120kb-fragmented": json.dumps({"action": "a" * 120_000}),
    "action-object-100kb": json.dumps({"action": {"k" * 50_000: "v" * 50_000}}),
    "unknown-field-name-30k-chars": json.dumps({"action": "sendtext", "text": "hi", "f" * 30_000: 1}),
    "unknown-field-name-120k-chars": json.dumps({"action": "cancel", "requestId": "r1", "f" * 120_000: 1}),
    "unknown-field-name-non-ascii": json.dumps({"action": "history", "conversationId": "c1", "é" * 20_000: 1}),
    "unknown-field-name-with-backticks": json.dumps({"action": "sendtext", "text": "hi", "`" * 60_000: 1}),
    "request-id-120kb-on-sendtext": json.dumps({"action": "sendtext", "text": "hi", "requestId": "r" * 120_000}),
    "request-id-100kb-with-an-unknown-field": json.dumps({"action": "cancel", "x": 1, "requestId": "r" * 100_000}),
    "request-id-120kb-on-default": json.dumps({"action": "nope", "requestId": "r" * 120_000}),
    "model-name-120kb": json.dumps({"action": "sendtext", "text": "hi", "model": "m" * 120_000}),
    "cursor-120kb": json.dumps({"action": "conversations", "cursor": "c" * 120_000}),
    "nested-value-in-an-unknown-field": json.dumps(
        {"action": "sendtext", "text": "hi", "x" * 20_000: [[[[1]]]] * 9_000}
    ),
    "wrong-type-120kb": json.dumps({"action": "resume", "requestId": "r1", "after": ["a" * 120_000]}),
    "not-json-120kb": "{" + "x" * 120_000,
    "json-string-120kb": json.dumps("s" * 120_000),
}


@pytest.mark.parametrize("message", HUGE_ECHOES.values(), ids=HUGE_ECHOES.keys())
def test_an_error_reply_to_a_huge_message_stays_within_the_frame_quota(connect, message):
    ws = connect()
    frame = reply_to(ws, message)
    assert frame["type"] == "error" and frame["code"] in ("bad_request", "unknown_action")
    assert len(frame["message"]) <= 1_000
    assert len(frame.get("field") or "") <= 100
    assert frame.get("requestId") in (None, "r1")  # a requestId is echoed only when valid
    assert_still_usable(ws)


def test_an_echoed_action_is_clipped_with_an_ellipsis(connect):
    ws = connect()
    frame = reply_to(ws, json.dumps({"action": "a" * 120_000}))
    assert frame["code"] == "unknown_action"
    assert "aaaa…" in frame["message"] and frame["message"].count("a" * 101) == 0


def test_a_huge_unknown_field_is_named_clipped(connect):
    ws = connect()
    frame = reply_to(ws, json.dumps({"action": "sendtext", "text": "hi", "f" * 30_000: 1}))
    assert frame["code"] == "bad_request"
    assert frame["field"].startswith("fff") and frame["field"].endswith("…") and len(frame["field"]) <= 100
    assert frame["message"].endswith(": unknown field")


def test_many_huge_messages_in_a_row_leave_the_socket_working(connect):
    ws = connect()
    for message in HUGE_ECHOES.values():
        reply_to(ws, message)
    assert ask(ws, "still here [[sim tokens=5 rate=5000 ttft=0]]")[-1]["type"] == "done"


# Item 4: deep nesting is a bad request, never a dropped connection.
DEEP = {
    "bare-array-1000": nested(1_000),
    "bare-array-60000": nested(60_000),  # 120 KB, fragmented
    "action-1000": '{"action":' + nested(1_000) + "}",
    "action-object-1000": '{"action":' + '{"a":' * 1_000 + "1" + "}" * 1_000 + "}",
    "unknown-field-1000": '{"action":"sendtext","text":"hi","x":' + nested(1_000) + "}",
    "text-1000": '{"action":"sendtext","text":' + nested(1_000) + "}",
    "cancel-field-1000": '{"action":"cancel","requestId":"r1","x":' + nested(1_000) + "}",
    "unknown-field-60000": '{"action":"sendtext","text":"hi","x":' + nested(60_000) + "}",
    "unclosed-100000": "[" * 100_000,  # 100,000 levels within the 128 KB message quota
}


@pytest.mark.parametrize("message", DEEP.values(), ids=DEEP.keys())
def test_deep_nesting_is_a_bad_request_and_the_socket_stays_open(connect, message):
    ws = connect()
    frame = reply_to(ws, message)
    assert (frame["type"], frame["code"], frame["retryable"]) == ("error", "bad_request", False)
    assert_still_usable(ws)


def test_nesting_a_relay_can_parse_still_gets_its_usual_answer(connect):
    ws = connect()
    frame = reply_to(ws, '{"action":"sendtext","text":"hi","x":' + nested(100) + "}")
    assert (frame["code"], frame["field"]) == ("bad_request", "x")


# Item 5: text that is not valid Unicode is the client's mistake, named, not a retryable internal error.
SURROGATES = {
    "text": {"action": "sendtext", "text": "bad \ud800 x"},
    "text-low-surrogate": {"action": "sendtext", "text": "bad \udc00 x"},
    "system": {"action": "sendtext", "text": "hi", "system": "be \udfff brief"},
    "model": {"action": "sendtext", "text": "hi", "model": "claude\ud800"},
    "requestId": {"action": "sendtext", "text": "hi", "requestId": "r\ud800"},
    "conversationId": {"action": "sendtext", "text": "hi", "conversationId": "c\ud800"},
    "cancel-requestId": {"action": "cancel", "requestId": "\ud800"},
    "history-conversationId": {"action": "history", "conversationId": "\udbff"},
    "conversations-cursor": {"action": "conversations", "cursor": "\ud800"},
}


@pytest.mark.parametrize("message", SURROGATES.values(), ids=SURROGATES.keys())
def test_a_lone_surrogate_is_a_bad_request_naming_the_field(connect, message):
    field = next(name for name, value in message.items() if name != "action" and not _is_unicode(value))
    ws = connect()
    frame = reply_to(ws, json.dumps(message))  # json.dumps writes the surrogate as a \\uXXXX escape
    assert (frame["type"], frame["code"], frame["retryable"]) == ("error", "bad_request", False)
    assert frame["field"] == field
    assert frame["message"].startswith(f"{field}: ")
    assert_still_usable(ws)


def test_a_lone_surrogate_in_a_field_name_is_a_bad_request(connect):
    ws = connect()
    frame = reply_to(ws, json.dumps({"action": "sendtext", "text": "hi", "x\ud800": 1}))
    assert (frame["code"], frame["retryable"]) == ("bad_request", False)
    assert frame["field"] == "x\\ud800"  # shown as its escape: a lone surrogate has no UTF-8 form


def test_a_surrogate_pair_is_ordinary_text(connect):
    ws = connect()
    frames = ask(ws, "emoji 😀 [[sim tokens=5 rate=5000 ttft=0]]")
    assert frames[-1]["type"] == "done"


def _is_unicode(value: Any) -> bool:
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
