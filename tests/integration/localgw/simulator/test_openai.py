"""Simulated OpenAI-compatible chat completions: the exact event sequence on the wire, auth and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests

from localgw.simulator import SimulatorServer

FAST = "[[sim rate=100000 ttft=0 tokens=10]]"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as running:
        yield running


def post(server: SimulatorServer, body: dict[str, Any], key: str | None = "sk-test") -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return requests.post(f"{server.url}/openai/v1/chat/completions", json=body, headers=headers, timeout=30)


def request_body(text: str = f"hi {FAST}", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "stream": True, **extra}


def sse_data(response: requests.Response) -> list[str]:
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return [block.removeprefix("data: ") for block in response.text.split("\n\n") if block]


def test_wire_sequence_role_then_content_then_finish_then_usage_then_done(server: SimulatorServer) -> None:
    data = sse_data(post(server, request_body(stream_options={"include_usage": True})))
    assert data[-1] == "[DONE]"
    chunks = [json.loads(item) for item in data[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    first, *content, finish, usage = chunks
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["delta"]["content"] == ""
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in [first, *content])
    assert finish["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 1, "completion_tokens": 10, "total_tokens": 11}
    assert all(chunk["usage"] is None for chunk in chunks[:-1])


def test_without_include_usage_there_is_no_usage_chunk(server: SimulatorServer) -> None:
    data = sse_data(post(server, request_body()))
    chunks = [json.loads(item) for item in data[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in chunk for chunk in chunks)


def test_mid_stream_error_is_an_error_event_without_done(server: SimulatorServer) -> None:
    data = sse_data(post(server, request_body(f"hi {FAST} [[sim fail_after=2]]")))
    assert "[DONE]" not in data
    error = json.loads(data[-1])["error"]
    assert error["type"] == "server_error"
    assert "fail_after=2" in error["message"]


def test_missing_api_key_is_401_like_openai(server: SimulatorServer) -> None:
    response = post(server, request_body(), key=None)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "API key" in response.json()["error"]["message"]


def test_any_non_empty_key_is_accepted_by_the_official_client(server: SimulatorServer) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/openai/v1", api_key="anything", max_retries=0)
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": f"hi {FAST}"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.startswith("Turn 1. You said: hi ")


def test_non_streaming_requests_are_refused_clearly(server: SimulatorServer) -> None:
    response = post(server, request_body(stream=False))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "stream"


def test_rate_limit_carries_retry_after(server: SimulatorServer) -> None:
    response = post(server, request_body(f"hi {FAST} [[sim throttle]]"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
