"""Hostile input to the surfaces of issues 14, 15 and 17 (tools and reasoning, sendtext parts, the OpenAI HTTP
endpoint), sent through localgw with real clients: websockets, the openai SDK and urllib3.

Each case is one that broke before its fix: a lone surrogate deep inside a tool result reached the store and came
back `internal` (retryable, though no retry could succeed); `NaN` and `Infinity`, which Python's json reads but no
strict JSON parser does, came back out in `history` frames and model requests; over HTTP, tool-call arguments nesting
a thousand levels were a 500 and a lone surrogate in a tool's name a 503. docs/security.md, "Adversarial pass (new
surfaces)", lists every attack tried, including those that held.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from typing import Any

import openai
import pytest
import urllib3

from tests.conftest import RECV_TIMEOUT
from tests.e2e.client import ask, collect, recv, send
from tests.e2e.lambdas.test_openai_http import client, new_user  # noqa: F401 (the fixture)

FAST = "rate=100000 ttft=0"
WEATHER = {"name": "get_weather", "inputSchema": {"type": "object"}}
WEATHER_FUNCTION = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def _tool_turn(ws: Any) -> tuple[str, str]:
    """An answer that called get_weather: its conversationId and the call's toolUseId."""
    frames = ask(ws, f"weather? [[sim tool=get_weather {FAST}]]", tools=[WEATHER])
    assert frames[-1]["stopReason"] == "tool_use"
    (call,) = [frame for frame in frames if frame["type"] == "tool_use"]
    return frames[0]["conversationId"], call["toolUseId"]


def _answer_tool_call(conversation_id: str, tool_use_id: str, content_json: str) -> str:
    """A sendtext answering the call with `content_json` written as is (escapes, NaN) into the message."""
    head = json.dumps({"action": "sendtext", "conversationId": conversation_id, "tools": [WEATHER]})
    return head[:-1] + f', "toolResults": [{{"toolUseId": "{tool_use_id}", "content": {content_json}}}]}}'


def _still_usable(ws: Any) -> None:
    send(ws, {"action": "models"})
    assert recv(ws)["type"] == "models"


@pytest.mark.parametrize(
    "content_json",
    ['"sunny \\ud800"', '{"\\udc00": 1}', '{"a": [[{"b": "x \\ud83d"}]]}'],
    ids=["string", "object-key", "nested"],
)
def test_a_lone_surrogate_in_a_tool_result_is_a_bad_request(connect, content_json) -> None:
    ws = connect()
    conversation_id, tool_use_id = _tool_turn(ws)
    ws.send(_answer_tool_call(conversation_id, tool_use_id, content_json))
    frame = recv(ws)
    assert (frame["type"], frame["code"], frame["field"], frame["retryable"]) == (
        "error",
        "bad_request",
        "toolResults",
        False,
    )
    assert "not valid Unicode" in frame["message"]
    # The call is still open: a well-formed result answers it.
    ws.send(_answer_tool_call(conversation_id, tool_use_id, '"sunny"'))
    assert collect(ws)[-1]["stopReason"] == "end_turn"


def test_a_lone_surrogate_in_a_tool_schema_is_a_bad_request(connect) -> None:
    ws = connect()
    tool = '{"name": "t", "description": "d", "inputSchema": {"type": "object", "title": "\\ud800"}}'
    ws.send('{"action": "sendtext", "text": "hi", "tools": [' + tool + "]}")
    frame = recv(ws)
    assert (frame["code"], frame["field"]) == ("bad_request", "tools")
    _still_usable(ws)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(connect, constant) -> None:
    ws = connect()
    conversation_id, tool_use_id = _tool_turn(ws)
    ws.send(_answer_tool_call(conversation_id, tool_use_id, '{"temperature": ' + constant + "}"))
    frame = recv(ws)
    assert (frame["type"], frame["code"]) == ("error", "bad_request")
    assert constant in frame["message"]
    # Nothing was stored: history holds only strict JSON (a browser's JSON.parse reads it).
    send(ws, {"action": "history", "conversationId": conversation_id})
    raw = ws.recv(timeout=RECV_TIMEOUT)
    json.loads(raw, parse_constant=lambda name: pytest.fail(f"{name} in a history frame"))
    _still_usable(ws)


def _tool_call_messages(arguments: str, name: str = "get_weather") -> list[dict[str, Any]]:
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]


def test_deeply_nested_tool_call_arguments_are_a_bad_request_over_http(client) -> None:  # noqa: F811
    arguments = '{"a": ' + "[" * 3000 + "]" * 3000 + "}"
    with pytest.raises(openai.BadRequestError) as raised:
        client().chat.completions.create(
            model="claude", messages=_tool_call_messages(arguments), tools=[WEATHER_FUNCTION]
        )
    assert raised.value.body["param"] == "messages[1].tool_calls[0].function.arguments"


def _post(relay_gateway, body: str) -> urllib3.BaseHTTPResponse:
    """POST `body` as written: ensure_ascii JSON escapes a lone surrogate (so does JavaScript's JSON.stringify),
    and Python's json writes float("nan") as a bare NaN (requests' `json=` does), which the openai SDK refuses to
    send at all."""
    token = relay_gateway.dev_issuer.mint(new_user())
    return urllib3.request(
        "POST",
        f"{relay_gateway.openai_base_url}/chat/completions",
        body=body.encode("ascii"),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=RECV_TIMEOUT,
    )


@pytest.mark.parametrize(
    ("messages", "tools", "param"),
    [
        (_tool_call_messages("{}", name="get\ud800"), [WEATHER_FUNCTION], "messages[1].tool_calls[0].function.name"),
        (
            _tool_call_messages('{"city": "\\ud800"}'),
            [WEATHER_FUNCTION],
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            [{"role": "user", "content": "hi"}],
            [
                {
                    "type": "function",
                    "function": {"name": "t", "description": "\ud800", "parameters": {"type": "object"}},
                }
            ],
            "tools[0].function.description",
        ),
        ([{"role": "user", "content": "hi"}], None, "stop"),
    ],
    ids=["tool-call-name", "escaped-in-arguments", "tool-description", "stop"],
)
def test_a_lone_surrogate_anywhere_is_a_bad_request_over_http(relay_gateway, messages, tools, param) -> None:
    body: dict[str, Any] = {"model": "claude", "messages": messages}
    if tools:
        body["tools"] = tools
    if param == "stop":
        body["stop"] = ["end", "\udfff"]
    response = _post(relay_gateway, json.dumps(body))
    assert response.status == 400
    error = response.json()["error"]
    assert error["param"] == (param if param != "stop" else "stop[1]")
    assert "not valid Unicode" in error["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_a_bad_request_over_http(relay_gateway, constant) -> None:
    schema = '{"type": "object", "maximum": ' + constant + "}"
    tool = '{"type": "function", "function": {"name": "t", "parameters": ' + schema + "}}"
    body = '{"model": "claude", "messages": [{"role": "user", "content": "hi"}], "tools": [' + tool + "]}"
    response = _post(relay_gateway, body)
    assert response.status == 400
    assert constant in response.json()["error"]["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity"])
def test_nan_in_tool_call_arguments_is_a_bad_request_over_http(relay_gateway, constant) -> None:
    messages = _tool_call_messages('{"a": ' + constant + "}")
    response = _post(relay_gateway, json.dumps({"model": "claude", "messages": messages, "tools": [WEATHER_FUNCTION]}))
    assert response.status == 400
    assert response.json()["error"]["param"] == "messages[1].tool_calls[0].function.arguments"


def test_a_sendtext_reusing_an_http_answers_request_id_takes_no_slot_of_it(client, connect) -> None:  # noqa: F811
    # Both channels lease in-flight slots by request id. A sendtext with the `x-request-id` of a running HTTP
    # answer renewed that answer's lease instead of taking a slot (a third answer with two slots), and its end
    # freed the HTTP answer's slot for yet another: the in-flight quota grew by one per round.
    user = new_user()
    slow = [{"role": "user", "content": "Hold a slot [[sim tokens=400 rate=100 ttft=0]]"}]
    streams = [client(user).chat.completions.create(model="claude", messages=slow, stream=True) for _ in range(2)]
    for stream in streams:
        next(iter(stream))
    http_request_id = streams[0].response.headers["x-request-id"]
    refusal = ask(connect(user), "a third answer", requestId=http_request_id)[-1]
    assert (refusal["type"], refusal["code"]) == ("error", "rate_limited")
    with pytest.raises(openai.RateLimitError):
        client(user).chat.completions.create(model="claude", messages=[{"role": "user", "content": "one more"}])
    for stream in streams:
        stream.close()


def test_two_tool_calls_with_one_id_are_a_bad_request_over_http(client) -> None:  # noqa: F811
    # Anthropic refuses tool_use ids that repeat, and one tool message would answer both calls: refused up front,
    # naming the second call, rather than passed to the model.
    messages = _tool_call_messages("{}")
    messages[1]["tool_calls"] = [messages[1]["tool_calls"][0]] * 2
    with pytest.raises(openai.BadRequestError) as raised:
        client().chat.completions.create(model="claude", messages=messages, tools=[WEATHER_FUNCTION])
    assert raised.value.body["param"] == "messages[1].tool_calls[1].id"


def test_reasoning_an_http_client_left_during_is_charged(client, relay_env) -> None:  # noqa: F811
    # Reasoning is billed output: leaving while the model reasons (before any answer text) must not make it free.
    # One slot: the next answer is admitted only once this one is settled (its release and charge are one write).
    relay_env(RELAY_QUOTA_DAILY_OUTPUT_TOKENS="1000", RELAY_QUOTA_INFLIGHT="1")
    user = new_user()
    thinking = [{"role": "user", "content": "Think [[sim think=5000 tokens=5 rate=400 ttft=0]]"}]
    stream = client(user).chat.completions.create(
        model="claude", messages=thinking, stream=True, reasoning_effort="low"
    )
    reasoned = ""
    for chunk in stream:
        reasoned += (chunk.choices[0].delta.model_extra or {}).get("reasoning_content") or "" if chunk.choices else ""
        if len(reasoned) > 600:
            break
    stream.close()
    # The day's remaining tokens cap the next answer: what is left is at most 1000 minus the reasoning's estimate.
    count = [{"role": "user", "content": "count [[sim tokens=2000 rate=100000 ttft=0]]"}]
    for _ in range(100):
        try:
            next_answer = client(user).chat.completions.create(model="claude", messages=count)
            break
        except openai.RateLimitError as refused:
            assert "inflight" in refused.message  # the slot of the answer being closed, not the day's tokens
            time.sleep(0.05)
    assert next_answer.usage.completion_tokens <= 1000 - len(reasoned) // 3


def test_another_users_tool_calls_cannot_be_answered(connect) -> None:
    alice, bob = connect(), connect()
    conversation_id, tool_use_id = _tool_turn(alice)
    bob.send(_answer_tool_call(conversation_id, tool_use_id, '"stolen"'))
    frame = recv(bob)
    assert (frame["type"], frame["code"]) == ("error", "forbidden")
    # Alice's call is untouched: her own result still answers it.
    alice.send(_answer_tool_call(conversation_id, tool_use_id, '"sunny"'))
    assert collect(alice)[-1]["stopReason"] == "end_turn"


@pytest.mark.parametrize("alias", ["claude", "converse"])
@pytest.mark.parametrize("choice", ["any", {"name": "get_weather"}], ids=["any", "name"])
def test_reasoning_with_a_forced_tool_choice_is_refused_before_the_model_call(connect, alias, choice) -> None:
    # Anthropic's thinking works with tool_choice auto or none only: a forced call fails at the model, after `start`.
    ws = connect()
    frame = ask(ws, "weather?", model=alias, tools=[WEATHER], toolChoice=choice, reasoning=True)[-1]
    assert (frame["type"], frame["code"], frame["field"]) == ("error", "bad_request", "toolChoice")
    assert "seq" not in frame
    # auto still reasons and calls the tool.
    frames = ask(ws, f"weather? [[sim tool=get_weather think=5 {FAST}]]", model=alias, tools=[WEATHER], reasoning=True)
    assert frames[-1]["stopReason"] == "tool_use"


def test_reasoning_effort_with_a_required_tool_choice_is_a_bad_request_over_http(client) -> None:  # noqa: F811
    with pytest.raises(openai.BadRequestError) as raised:
        client().chat.completions.create(
            model="claude",
            messages=[{"role": "user", "content": "weather?"}],
            tools=[WEATHER_FUNCTION],
            tool_choice="required",
            reasoning_effort="low",
        )
    assert raised.value.body["param"] == "tool_choice"


def test_an_openai_compatible_model_may_reason_and_be_forced_to_call(connect) -> None:
    frames = ask(
        connect(),
        f"weather? [[sim tool=get_weather {FAST}]]",
        model="openai",
        tools=[WEATHER],
        toolChoice="any",
        reasoning=True,
    )
    assert frames[-1]["stopReason"] == "tool_use"


def test_a_client_that_leaves_mid_body_is_no_server_error(relay_gateway, caplog) -> None:
    # Was an ERROR "HTTP request failed" (ConnectionResetError) and a 500 written to nobody: an alarm on the
    # function's errors would fire for every client that gave up while uploading.
    caplog.set_level(logging.INFO)
    token = relay_gateway.dev_issuer.mint(new_user())
    url = urllib3.util.parse_url(relay_gateway.openai_base_url)
    body = json.dumps({"model": "claude", "messages": [{"role": "user", "content": "x" * 1000}]}).encode()
    head = (
        f"POST {url.path}/chat/completions HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.host, url.port)) as sock:
        sock.sendall(head + body[:100])
    deadline = time.monotonic() + 10
    while not [r for r in caplog.records if "left before" in r.getMessage()] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r for r in caplog.records if "left before" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
