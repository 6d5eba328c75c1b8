"""The OpenAI-compatible HTTP channel through localgw, with the real `openai` SDK, httpx and curl: the same answers,
auth, quotas and guards as the WebSocket channel (issue 17)."""

from __future__ import annotations

import itertools
import json
import logging
import shlex
import subprocess
import time

import openai
import pytest
import urllib3

from lambdas.routes import AUTHORIZER
from tests.e2e.client import answer_text, ask, expected_reply
from tests.e2e.lambdas.test_lifecycle import wait_for_record

_users = itertools.count()


def new_user() -> str:
    return f"http-user-{next(_users)}"


@pytest.fixture
def client(relay_gateway):
    """`client(user=None)`: an OpenAI SDK client for the relay, signed in as `user` (a fresh user by default), that
    raises at once instead of retrying (the SDK retries 429 and 5xx by default)."""

    def make(user: str | None = None, **kwargs) -> openai.OpenAI:
        token = relay_gateway.dev_issuer.mint(user or new_user())
        return openai.OpenAI(base_url=relay_gateway.openai_base_url, api_key=token, max_retries=0, **kwargs)

    return make


def streamed_text(sse: str) -> str:
    """The answer text in a stream's `data:` lines, as a client assembles it."""
    events = [line.removeprefix("data: ") for line in sse.splitlines() if line.startswith("data: {")]
    return "".join(json.loads(event)["choices"][0]["delta"].get("content") or "" for event in events)


def user_says(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_streamed_and_whole_completions_equal_the_websocket_answer(client, connect):
    question = "The same question on both channels [[sim tokens=40 rate=2000 ttft=0]]"
    websocket = ask(connect(), question)
    assert websocket[-1]["type"] == "done"

    whole = client().chat.completions.create(model="claude", messages=user_says(question))
    chunks = list(client().chat.completions.create(model="claude", messages=user_says(question), stream=True))

    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert whole.choices[0].message.content == answer_text(websocket) == streamed == expected_reply(question).text
    assert whole.choices[0].finish_reason == "stop" == chunks[-1].choices[0].finish_reason
    assert whole.model == "claude" and whole.object == "chat.completion"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert whole.usage.completion_tokens == websocket[-1]["usage"]["outputTokens"]


def test_include_usage_sends_a_last_chunk_with_the_usage(client, connect):
    question = "Count my tokens [[sim tokens=25 rate=2000 ttft=0]]"
    done = ask(connect(), question)[-1]
    chunks = list(
        client().chat.completions.create(
            model="claude", messages=user_says(question), stream=True, stream_options={"include_usage": True}
        )
    )
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.completion_tokens == done["usage"]["outputTokens"] == 25
    assert last.usage.prompt_tokens == done["usage"]["inputTokens"]
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])


def test_history_system_and_max_tokens_reach_the_model(client):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": [{"type": "text", "text": "Second question [[sim rate=2000 ttft=0]]"}]},
    ]
    answer = client().chat.completions.create(model="claude", messages=messages, max_completion_tokens=7)
    # The simulator numbers the turn from the history it was sent, and stops at max tokens.
    assert answer.choices[0].message.content.startswith("Turn 2. You said: Second question")
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 7


def test_models_lists_the_catalogue_aliases(client, relay_gateway):
    models = client().models.list()
    assert [model.id for model in models] == relay_gateway.gateway.models.aliases
    assert all(model.object == "model" for model in models)


def test_a_bad_token_is_an_authentication_error(relay_gateway):
    bad = openai.OpenAI(base_url=relay_gateway.openai_base_url, api_key="not-a-jwt", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        bad.chat.completions.create(model="claude", messages=user_says("hi"))
    assert refused.value.status_code == 401
    assert refused.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_no_token_is_an_authentication_error(relay_gateway):
    answer = urllib3.request("POST", f"{relay_gateway.openai_base_url}/chat/completions", json={}, timeout=10)
    assert answer.status == 401
    assert answer.json()["error"]["type"] == "authentication_error"


def test_an_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as refused:
        client().chat.completions.create(model="gpt-9", messages=user_says("hi"), stream=True)
    assert refused.value.code == "model_not_found"
    assert refused.value.param == "model"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": 10**6}, "max_completion_tokens"),
        ({"temperature": 1.5}, "temperature"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            "messages[0].content[0].type",
        ),
        ({"extra_body": {"top_k": 3}}, "top_k"),
        # llama (Meta Llama on Bedrock invoke) takes neither tools nor reasoning: refused before the model is called.
        ({"model": "llama", "tools": [{"type": "function", "function": {"name": "f"}}]}, "tools"),
        ({"model": "llama", "reasoning_effort": "high"}, "reasoning_effort"),
        ({"model": "llama", "stop": ["END"]}, "stop"),
    ],
    ids=[
        "zero-max-tokens",
        "too-many-tokens",
        "hot",
        "no-messages",
        "no-user",
        "image",
        "unknown-field",
        "tools-unsupported",
        "reasoning-unsupported",
        "stop-unsupported",
    ],
)
def test_bad_input_is_a_bad_request_naming_the_param(client, fields, param):
    request = {"model": "claude", "messages": user_says("hi"), **fields}
    with pytest.raises(openai.BadRequestError) as refused:
        client().chat.completions.create(**request)
    assert refused.value.status_code == 400
    assert refused.value.param == param
    assert param in refused.value.message


def test_a_text_over_the_limit_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client().chat.completions.create(model="claude", messages=user_says("x" * 200_001))
    assert refused.value.param == "messages[0].content"


def test_a_spent_quota_is_a_rate_limit_error_with_retry_after(client, connect):
    user = new_user()
    slow = user_says("Hold a slot [[sim tokens=400 rate=100 ttft=0]]")
    # The in-flight quota (2 by default) is the WebSocket channel's: two open streams take both slots.
    streams = [client(user).chat.completions.create(model="claude", messages=slow, stream=True) for _ in range(2)]
    for stream in streams:
        next(iter(stream))
    with pytest.raises(openai.RateLimitError) as refused:
        client(user).chat.completions.create(model="claude", messages=user_says("one more"))
    assert refused.value.status_code == 429
    assert refused.value.code == "rate_limited"
    assert int(refused.value.response.headers["Retry-After"]) >= 1
    # The WebSocket channel counts the same slots: the user's sendtext is refused too.
    refusal = ask(connect(user), "and over the WebSocket?")[-1]
    assert (refusal["type"], refusal["code"]) == ("error", "rate_limited")
    for stream in streams:
        stream.close()


def test_the_daily_token_quota_applies_over_http(client, relay_env):
    relay_env(RELAY_QUOTA_DAILY_OUTPUT_TOKENS="30")
    user = new_user()
    first = client(user).chat.completions.create(model="claude", messages=user_says("spend [[sim tokens=50]]"))
    assert first.usage.completion_tokens == 30  # capped by the tokens left today
    with pytest.raises(openai.RateLimitError) as refused:
        client(user).chat.completions.create(model="claude", messages=user_says("more"))
    assert "daily_output_tokens" in refused.value.message


def test_a_throttled_model_before_any_text_is_an_http_error(client):
    with pytest.raises(openai.RateLimitError) as refused:
        client().chat.completions.create(model="claude", messages=user_says("busy [[sim throttle]]"), stream=True)
    assert refused.value.code == "throttled"


def test_an_error_after_the_stream_began_is_a_final_error_event(client):
    stream = client().chat.completions.create(
        model="claude", messages=user_says("fail midway [[sim fail_after=3 rate=2000 ttft=0]]"), stream=True
    )
    received = []
    with pytest.raises(openai.APIError) as failed:
        for chunk in stream:
            received.append(chunk)
    assert received, "text arrived before the error"
    assert failed.value.code == "model_error"
    assert failed.value.type == "server_error"


def test_the_upstream_is_closed_when_the_client_disconnects_mid_stream(client, relay_gateway):
    question = "http-leaves [[sim tokens=3000 rate=200 ttft=0]]"
    with client().chat.completions.create(model="claude", messages=user_says(question), stream=True) as stream:
        assert next(iter(stream)).choices[0].delta.role == "assistant"
    # Leaving the block closed the stream (and its connection) mid-answer.
    record = wait_for_record(relay_gateway.url, "http-leaves", lambda r: r["outcome"] != "running")
    assert record["outcome"] == "client_closed"
    assert record["chunks_sent"] < record["chunks_planned"] / 2


def test_curl_shows_data_lines_as_they_arrive_and_done(relay_gateway):
    token = relay_gateway.dev_issuer.mint(new_user())
    body = {"model": "claude", "stream": True, "messages": user_says("curl me [[sim tokens=150 rate=60 ttft=0]]")}
    curl = subprocess.Popen(
        [
            "curl",
            "-sN",
            f"{relay_gateway.openai_base_url}/chat/completions",
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps(body),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = curl.stdout.readline()
        # The first event is on screen while the answer (150 words at 60/s) is still being written.
        assert first.startswith("data: {")
        assert curl.poll() is None
        rest = curl.stdout.read()
    finally:
        curl.kill()
        curl.wait()
    events = [line for line in (first + rest).splitlines() if line]
    assert all(line.startswith("data: ") for line in events)
    assert events[-1] == "data: [DONE]"
    assert streamed_text(first + rest) == expected_reply("curl me [[sim tokens=150 rate=60 ttft=0]]").text


def test_an_unknown_path_is_an_openai_shaped_404(relay_gateway):
    token = relay_gateway.dev_issuer.mint(new_user())
    answer = urllib3.request(
        "GET", f"{relay_gateway.openai_base_url}/embeddings", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert answer.status == 404
    assert answer.json()["error"]["code"] == "unknown_url"


def test_near_the_function_timeout_the_stream_ends_with_an_event_saying_why(start_gateway):
    handle = start_gateway(
        dynamodb=True, mount_simulator=True, streaming_timeout_seconds=3, context_overrides={"timeGuardMs": 1500}
    )
    sdk = openai.OpenAI(base_url=handle.openai_base_url, api_key="unused: no authorizer", max_retries=0)
    question = "http-long [[sim tokens=5000 rate=100 ttft=0]]"
    stream = sdk.chat.completions.create(model="claude", messages=user_says(question), stream=True)
    received = []
    with pytest.raises(openai.APIError) as stopped:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert stopped.value.code == "time_limit"
    assert "time limit" in stopped.value.message
    assert received and expected_reply(question).text.startswith("".join(received))
    record = wait_for_record(handle.url, "http-long", lambda r: r["outcome"] != "running")
    assert record["outcome"] == "client_closed"


def test_the_banner_prints_the_base_url_and_a_curl_command_that_works(start_gateway, caplog) -> None:
    caplog.set_level(logging.INFO, logger="localgw")
    handle = start_gateway(dynamodb=True, mount_simulator=True, dev_issuer=True, authorizer=AUTHORIZER)
    banner = [record.getMessage() for record in caplog.records if getattr(record, "banner", False)]
    assert any(line.split()[:3] == ["OpenAI", "HTTP", handle.openai_base_url] for line in banner)
    (command,) = [line.removeprefix("Or over HTTP:").strip() for line in banner if line.startswith("Or over HTTP:")]
    assert command.startswith("curl -N ")
    shown = subprocess.run([*shlex.split(command), "-s"], capture_output=True, text=True, timeout=60, check=True)
    assert shown.stdout.rstrip().endswith("data: [DONE]")
    assert streamed_text(shown.stdout) == expected_reply("Hello!").text


def test_the_terminal_shows_one_line_per_http_request(client, relay_gateway, caplog) -> None:
    caplog.set_level(logging.INFO, logger="localgw")
    answer = client().chat.completions.create(model="claude", messages=user_says("logged [[sim tokens=3]]"))
    request_id = answer.id.removeprefix("chatcmpl-")
    deadline = time.monotonic() + 10
    while not [r for r in caplog.records if request_id in r.getMessage()] and time.monotonic() < deadline:
        time.sleep(0.02)  # the line is written when the response has ended, which may be just after the client read it
    (line,) = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    assert line.startswith("HTTP") and f"POST /{relay_gateway.stage}/v1/chat/completions → 200" in line


def test_a_whole_completion_that_fails_midway_is_a_server_error(client):
    with pytest.raises(openai.InternalServerError) as failed:
        client().chat.completions.create(model="claude", messages=user_says("fails [[sim fail_after=3 ttft=0]]"))
    assert (failed.value.status_code, failed.value.code) == (500, "model_error")


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize("model", ["claude", "converse", "openai"])
def test_a_tool_call_round_trip_with_the_sdk(client, model):
    sdk = client()
    question = user_says("Weather in Paris? [[sim tool=get_weather tokens=5 rate=2000 ttft=0]]")
    chunks = list(sdk.chat.completions.create(model=model, messages=question, tools=[WEATHER], stream=True))
    streamed = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    whole = sdk.chat.completions.create(model=model, messages=question, tools=[WEATHER])
    message = whole.choices[0].message
    assert whole.choices[0].finish_reason == "tool_calls"
    ((call,),) = [message.tool_calls]
    assert (call.type, call.function.name) == ("function", "get_weather")
    assert [(c.index, c.id, c.function.name, c.function.arguments) for c in streamed] == [
        (0, call.id, "get_weather", call.function.arguments)
    ]
    assert isinstance(json.loads(call.function.arguments)["city"], str)

    # The client runs the tool and sends the history back with the result, as OpenAI's API has it.
    result = {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 °C"}
    history = [*question, message.model_dump(exclude_none=True), result]
    after = sdk.chat.completions.create(model=model, messages=history, tools=[WEATHER])
    assert after.choices[0].message.content.startswith("Turn 2. Tool get_weather returned: sunny, 21 °C")
    assert after.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", ["claude", "openai"])
def test_reasoning_streams_as_reasoning_content_apart_from_the_text(client, model):
    question = "Think first [[sim think=12 tokens=8 rate=2000 ttft=0]]"
    chunks = list(
        client().chat.completions.create(model=model, messages=user_says(question), reasoning_effort="low", stream=True)
    )
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    reasoning = "".join((delta.model_extra or {}).get("reasoning_content") or "" for delta in deltas)
    text = "".join(delta.content or "" for delta in deltas)
    assert reasoning.startswith("Thinking:") and len(reasoning.split()) == 12
    assert text == expected_reply(question).text

    whole = client().chat.completions.create(model=model, messages=user_says(question), reasoning_effort="low")
    assert whole.choices[0].message.model_extra["reasoning_content"] == reasoning
    assert whole.choices[0].message.content == text
