"""The relay's terminal frames in OpenAI's terms: finish reasons, usage, errors and the SSE framing."""

from __future__ import annotations

import json

import pytest

from lambdas import protocol
from lambdas.openai_http.chunks import Completion, finish_reason, sse, usage
from lambdas.openai_http.errors import from_frame
from lambdas.protocol import ErrorCode


def done(reason: str, input_tokens: int | None = 3, output_tokens: int | None = 7) -> dict:
    return protocol.done_frame("r", 5, reason, input_tokens, output_tokens, 10, 20)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("content_filtered", "content_filter"),
     ("tool_use", "tool_calls")],
)  # fmt: skip
def test_stop_reasons_become_finish_reasons(reason, expected):
    assert finish_reason(done(reason)) == expected


def test_usage_counts_and_a_count_the_model_did_not_report():
    assert usage(done("end_turn")) == {"prompt_tokens": 3, "completion_tokens": 7, "total_tokens": 10}
    assert usage(done("end_turn", input_tokens=None)) == {"prompt_tokens": 0, "completion_tokens": 7, "total_tokens": 7}


def test_a_completion_and_its_chunks_share_id_created_and_model():
    completion = Completion("chatcmpl-x", 1700000000, "claude")
    whole = completion.whole("Hi", done("end_turn"))
    assert whole["object"] == "chat.completion"
    assert whole["choices"][0]["message"] == {"role": "assistant", "content": "Hi", "refusal": None}
    for chunk in (completion.first(), completion.text("Hi"), completion.finish(done("max_tokens"))):
        assert (chunk["id"], chunk["created"], chunk["model"], chunk["object"]) == (
            "chatcmpl-x", 1700000000, "claude", "chat.completion.chunk"
        )  # fmt: skip
    assert completion.finish(done("max_tokens"))["choices"][0] == {
        "index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"
    }  # fmt: skip
    assert completion.usage_chunk(done("end_turn"))["choices"] == []


def test_an_sse_event_is_one_data_line_of_utf8_json():
    event = sse({"content": "jalapeño\nnext"})
    assert event.endswith(b"\n\n") and event.count(b"\n") == 2
    assert json.loads(event.removeprefix(b"data: ")) == {"content": "jalapeño\nnext"}


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (ErrorCode.BAD_REQUEST, 400, "invalid_request_error"),
        (ErrorCode.FORBIDDEN, 403, "permission_error"),
        (ErrorCode.NOT_FOUND, 404, "not_found_error"),
        (ErrorCode.RATE_LIMITED, 429, "rate_limit_error"),
        (ErrorCode.THROTTLED, 429, "rate_limit_error"),
        (ErrorCode.MODEL_ERROR, 500, "server_error"),
        (ErrorCode.INTERNAL, 500, "server_error"),
        (ErrorCode.UPSTREAM_UNAVAILABLE, 503, "server_error"),
    ],
)
def test_relay_error_codes_map_to_the_statuses_the_sdks_type(code, status, kind):
    error = from_frame(protocol.error_frame(code, "why", request_id="r", retryAfter=7))
    assert (error.status, error.type, error.code) == (status, kind, code)
    assert error.body() == {"error": {"message": "why", "type": kind, "code": str(code), "param": None}}
    assert error.headers() == {"Retry-After": "7"}


def test_a_tool_use_frame_becomes_an_openai_tool_call_streamed_and_whole():
    completion = Completion("chatcmpl-x", 1, "claude")
    frame = protocol.tool_use_frame("r", 3, "call_1", "get_weather", {"city": "Zürich"})
    expected = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Zürich"}'},
    }
    assert completion.tool_call(0, frame)["choices"][0]["delta"] == {"tool_calls": [{"index": 0, **expected}]}
    whole = completion.whole("", done("tool_use"), "Thinking: hm", [frame])
    choice = whole["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [expected],
        "reasoning_content": "Thinking: hm",
    }


def test_reasoning_streams_as_reasoning_content():
    assert Completion("c", 1, "m").reasoning("hm")["choices"][0]["delta"] == {"reasoning_content": "hm"}
