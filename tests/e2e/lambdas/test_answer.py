"""A sendtext answer end to end: real handlers, real boto3 clients, the simulated model, a real WebSocket."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lambdas import clients
from lambdas.protocol import MAX_FRAME_BYTES
from tests.conftest import RECV_TIMEOUT
from tests.e2e.client import answer_text, ask, collect, expected_reply, recv, send
from tests.fakes import assert_well_formed

FAST = "[[sim rate=5000 ttft=0]]"


def test_the_seeds_message_streams_the_models_whole_answer(connect):
    ws = connect()
    text = f"Hello, AI! What can you do? {FAST}"
    frames = ask(ws, text)

    plan = expected_reply(text)
    request_id = frames[0]["requestId"]
    start = frames[0]
    assert start == {
        "type": "start",
        "requestId": request_id,
        "seq": 0,
        "model": start["model"],
        "conversationId": start["conversationId"],
    }
    assert answer_text(frames) == plan.text
    assert plan.text.startswith("Turn 1. You said: Hello, AI! What can you do?")
    done = frames[-1]
    assert done["type"] == "done"
    assert done["stopReason"] == "end_turn"
    assert done["usage"] == {"inputTokens": plan.input_tokens, "outputTokens": plan.output_tokens}
    assert done["metrics"]["totalMs"] >= done["metrics"]["firstTokenMs"] >= 0
    assert_well_formed(frames, request_id)


def test_a_client_request_id_is_echoed_and_one_is_made_when_absent(connect):
    ws = connect()
    mine = ask(ws, f"first {FAST}", requestId="my-req_1")
    assert {frame["requestId"] for frame in mine} == {"my-req_1"}
    made = ask(ws, f"second {FAST}")
    request_ids = {frame["requestId"] for frame in made}
    assert len(request_ids) == 1
    assert len(request_ids.pop()) == 22


def test_max_tokens_caps_the_answer(connect):
    frames = ask(connect(), f"cap me {FAST}", maxTokens=7)
    assert frames[-1]["stopReason"] == "max_tokens"
    assert frames[-1]["usage"]["outputTokens"] == 7
    assert answer_text(frames) == expected_reply(f"cap me {FAST}", max_tokens=7).text


def test_a_word_longer_than_a_frame_is_split_never_truncated(connect):
    ws = connect()
    word = "é" * 31_000  # 62 KB of UTF-8 in one simulated chunk
    message = json.dumps({"action": "sendtext", "text": f"{word} {FAST}"}, ensure_ascii=False)
    # API Gateway closes the socket (1009) on any frame over 32 KB: a client must fragment a longer message.
    ws.send(iter([message[i : i + 10_000] for i in range(0, len(message), 10_000)]))
    raw = [ws.recv(timeout=RECV_TIMEOUT)]
    while json.loads(raw[-1])["type"] not in ("done", "error"):
        raw.append(ws.recv(timeout=RECV_TIMEOUT))
    frames = [json.loads(message) for message in raw]
    assert max(len(message.encode()) for message in raw) <= MAX_FRAME_BYTES
    assert answer_text(frames) == expected_reply(f"{word} {FAST}").text
    assert_well_formed(frames, frames[0]["requestId"])


def test_throttling_before_the_stream_is_one_retryable_error_frame(connect):
    frames = ask(connect(), "busy [[sim throttle ttft=0]]", requestId="t1")
    assert [frame["type"] for frame in frames] == ["start", "error"]
    error = frames[-1]
    assert (error["code"], error["retryable"], error["requestId"], error["seq"]) == ("throttled", True, "t1", 1)


def test_a_model_error_mid_stream_ends_the_delivered_text_with_one_error_frame(connect):
    text = "fail soon [[sim fail_after=3 rate=5000 ttft=0]]"
    frames = ask(connect(), text)
    plan = expected_reply(text)
    assert answer_text(frames) == "".join(chunk.text for chunk in plan.chunks[:3])
    assert (frames[-1]["type"], frames[-1]["code"], frames[-1]["retryable"]) == ("error", "model_error", False)
    assert_well_formed(frames, frames[0]["requestId"])


def test_posts_throttled_by_api_gateway_are_retried_without_loss_or_reordering(connect, relay_gateway):
    relay_gateway.faults.reseed(7)
    relay_gateway.faults.throttle_rate = 0.3
    try:
        text = "through the storm [[sim tokens=150 rate=3000 ttft=0]]"
        frames = ask(connect(), text)
    finally:
        relay_gateway.faults.throttle_rate = 0.0
    assert answer_text(frames) == expected_reply(text).text
    assert frames[-1]["type"] == "done"
    assert_well_formed(frames, frames[0]["requestId"])


def test_answers_on_one_socket_stay_separate(connect):
    ws = connect()
    send(ws, {"action": "sendtext", "text": f"one {FAST}", "requestId": "a"})
    send(ws, {"action": "sendtext", "text": f"two {FAST}", "requestId": "b"})
    by_request: dict[str, list[dict]] = {"a": [], "b": []}
    while not all(frames and frames[-1]["type"] == "done" for frames in by_request.values()):
        frame = recv(ws)
        by_request[frame["requestId"]].append(frame)
    assert answer_text(by_request["a"]) == expected_reply(f"one {FAST}").text
    assert answer_text(by_request["b"]) == expected_reply(f"two {FAST}").text
    for request_id, frames in by_request.items():
        assert_well_formed(frames, request_id)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"action": "sendtext"}, "text"),
        ({"action": "sendtext", "text": ""}, "text"),
        ({"action": "sendtext", "text": "hi", "maxTokens": 0}, "maxTokens"),
        ({"action": "sendtext", "text": "hi", "maxTokens": 10**6}, "maxTokens"),
        ({"action": "sendtext", "text": "hi", "maxTokens": "5"}, "maxTokens"),
        ({"action": "sendtext", "text": "hi", "temperature": 1.5}, "temperature"),
        ({"action": "sendtext", "text": "hi", "requestId": "spaces are bad"}, "requestId"),
        ({"action": "sendtext", "text": "hi", "maxtokens": 5}, "maxtokens"),
        ({"action": "sendtext", "text": "hi", "model": "no-such-model"}, "model"),
    ],
    ids=[
        "missing-text",
        "empty-text",
        "zero-max-tokens",
        "max-tokens-over-limit",
        "max-tokens-string",
        "temperature-out-of-range",
        "bad-request-id",
        "unknown-field",
        "unknown-model",
    ],
)
def test_each_invalid_field_is_named_and_the_socket_stays_usable(connect, message, field):
    ws = connect()
    send(ws, message)
    error = recv(ws)
    assert (error["type"], error["code"], error["field"], error["retryable"]) == ("error", "bad_request", field, False)
    assert "seq" not in error
    assert ask(ws, f"still here {FAST}")[-1]["type"] == "done"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json at all", "bad_request"),
        ("[1, 2, 3]", "bad_request"),
        ('{"text": "no action"}', "unknown_action"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"action": 123}', "unknown_action"),
    ],
    ids=["not-json", "json-array", "missing-action", "unknown-action", "numeric-action"],
)
def test_messages_without_a_route_get_an_error_frame_and_the_socket_stays_open(connect, raw, code):
    ws = connect()
    ws.send(raw)
    error = recv(ws)
    assert (error["type"], error["code"]) == ("error", code)
    if code == "unknown_action":
        assert {"sendtext", "models"} <= set(error["actions"])
    assert ask(ws, f"after the error {FAST}")[-1]["type"] == "done"


def test_models_lists_the_default_model(connect):
    ws = connect()
    send(ws, {"action": "models"})
    frame = collect_models(ws)
    defaults = [model for model in frame["models"] if model["default"]]
    assert len(defaults) == 1
    start = ask(ws, f"which model {FAST}")[0]
    assert start["model"] == defaults[0]["id"]


def collect_models(ws):
    frame = recv(ws)
    assert frame["type"] == "models"
    return frame


def test_collect_helper_stops_at_a_refusal(connect):
    ws = connect()
    send(ws, {"action": "sendtext", "text": ""})
    assert [frame["type"] for frame in collect(ws)] == ["error"]


def test_a_store_failure_in_admission_keeps_the_clients_request_id(connect):
    """Issue 13.8: when admission cannot write (and giving back what it took fails too), the `internal` frame still
    carries the client's valid requestId. Every table write fails here except taking the in-flight slot."""
    ws = connect()
    client = clients.dynamodb()  # the functions' shared client: they run in this process under localgw

    def fail(params, **_):
        if b"INFLIGHT" in params.get("body", b"") and params.get("headers", {}).get("X-Amz-Target", "").endswith(
            ".PutItem"
        ):
            return None
        response = SimpleNamespace(status_code=500, headers={})
        return response, {"Error": {"Code": "InternalServerError", "Message": "injected"}, "ResponseMetadata": {}}

    events = [f"before-call.dynamodb.{op}" for op in ("PutItem", "UpdateItem", "TransactWriteItems")]
    for event in events:
        client.meta.events.register(event, fail)
    try:
        frames = ask(ws, f"doomed {FAST}", requestId="keep-my-id")
    finally:
        for event in events:
            client.meta.events.unregister(event, fail)
    assert len(frames) == 1
    refusal = frames[0]
    assert (refusal["type"], refusal["code"], refusal["retryable"]) == ("error", "internal", True)
    assert refusal["requestId"] == "keep-my-id"
