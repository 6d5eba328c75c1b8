"""SSE keep-alives on the OpenAI-compatible HTTP channel, through localgw: while a streamed answer is silent, a
`: keep-alive` comment every `RELAY_SSE_KEEPALIVE_SECONDS` keeps idle timeouts on the way (API Gateway's 5 minutes,
a proxy's less) from closing it; clients skip the comments and get the same answer.

The simulator's `ttft` directive makes the silence: a first token 2.5 s late, against a 1 s interval here."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
import urllib3

from tests.e2e.client import answer_text, ask, expected_reply
from tests.e2e.lambdas.test_openai_http import new_user, streamed_text, user_says

KEEP_ALIVE = ": keep-alive"
SLOW_FIRST_TOKEN = "[[sim tokens=30 rate=2000 ttft=2500]]"


@pytest.fixture
def keepalive_every_second(relay_env) -> None:
    relay_env(RELAY_SSE_KEEPALIVE_SECONDS="1")


def raw_stream(base_url: str, token: str, question: str) -> tuple[urllib3.BaseHTTPResponse, Iterator[str]]:
    """The response and its lines, as they arrive (no SSE parsing: the comments are visible)."""
    body = {"model": "claude", "stream": True, "messages": user_says(question)}
    response = urllib3.request(
        "POST",
        f"{base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        preload_content=False,
        timeout=urllib3.Timeout(connect=10, read=30),
    )
    lines = (line.decode().rstrip("\r\n") for line in response)
    return response, lines


def test_a_slow_first_token_sends_keep_alive_comments_before_the_text(keepalive_every_second, relay_gateway):
    question = f"Slow to start {SLOW_FIRST_TOKEN}"
    token = relay_gateway.dev_issuer.mint(new_user())
    response, lines = raw_stream(relay_gateway.openai_base_url, token, question)
    received = list(lines)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    first_text = next(i for i, line in enumerate(received) if line.startswith("data: ") and '"content":"T' in line)
    assert KEEP_ALIVE in received[:first_text], received[:first_text]
    # A comment is a line of its own, followed by the blank line that ends an event: nothing else changes.
    assert all(line in {KEEP_ALIVE, ""} or line.startswith("data: ") for line in received)
    assert received[-2:] == ["data: [DONE]", ""]
    assert streamed_text("\n".join(received)) == expected_reply(question).text


def test_the_sdk_skips_the_comments_and_the_answer_is_the_websockets(keepalive_every_second, relay_gateway, connect):
    question = f"The same answer with keep-alives {SLOW_FIRST_TOKEN}"
    frames = ask(connect(), question)
    sdk = openai.OpenAI(
        base_url=relay_gateway.openai_base_url, api_key=relay_gateway.dev_issuer.mint(new_user()), max_retries=0
    )
    chunks = list(
        sdk.chat.completions.create(
            model="claude", messages=user_says(question), stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == answer_text(frames) == expected_reply(question).text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage.completion_tokens == frames[-1]["usage"]["outputTokens"]


def test_a_failure_after_a_keep_alive_is_an_error_event_in_the_opened_stream(keepalive_every_second, relay_gateway):
    # The first keep-alive sends the headers (200): what fails after it can only be said in the stream.
    sdk = openai.OpenAI(
        base_url=relay_gateway.openai_base_url, api_key=relay_gateway.dev_issuer.mint(new_user()), max_retries=0
    )
    stream = sdk.chat.completions.create(
        model="claude", messages=user_says("Fails late [[sim fail_after=0 ttft=2500]]"), stream=True
    )
    with pytest.raises(openai.APIError) as failed:
        for chunk in stream:
            assert not (chunk.choices and chunk.choices[0].delta.content), "no text before the failure"
    assert not isinstance(failed.value, openai.APIStatusError)
    assert failed.value.code == "model_error"
