"""Reasoning and tool calls through relay(): their frames, their order, and what the answer's turn keeps."""

from __future__ import annotations

from lambdas.answer.relay import Guards
from lambdas.providers.content import ReasoningBlock, ToolCall
from lambdas.providers.events import (
    ReasoningDelta,
    ReasoningSignature,
    RedactedReasoning,
    Stop,
    TextDelta,
    ToolUse,
    UpstreamError,
)
from lambdas.providers.tools import parse_tool_input
from tests.fakes import RecordingPoster, assert_well_formed
from tests.unit.lambdas.answer.test_relay import FakeUpstream, plenty_of_time, run


def test_reasoning_then_text_then_a_call_arrive_in_order_and_are_kept():
    poster = RecordingPoster()
    events = [
        ReasoningDelta("Let me "),
        ReasoningDelta("think."),
        ReasoningSignature("sig"),
        RedactedReasoning("b3BhcXVl"),
        TextDelta("Calling."),
        ToolUse("t1", "calc", {"e": "1+1"}),
        Stop("tool_use", 3, 9, 2, None),
    ]
    ended = []
    outcome = run(FakeUpstream(events), poster, Guards(plenty_of_time, on_end=lambda o, text: ended.append(text)))

    frames = poster.frames
    assert_well_formed(frames, "req-1")
    assert [f["type"] for f in frames] == ["start", "reasoning", "reasoning", "delta", "tool_use", "done"]
    assert frames[1]["text"] == "Let me think."
    assert frames[2] == {"type": "reasoning", "requestId": "req-1", "seq": 2, "redacted": True}
    assert frames[4] == {
        "type": "tool_use", "requestId": "req-1", "seq": 4, "toolUseId": "t1", "name": "calc", "input": {"e": "1+1"}
    }  # fmt: skip
    assert frames[-1]["stopReason"] == "tool_use"
    assert frames[-1]["usage"] == {
        "inputTokens": 3, "outputTokens": 9, "cacheReadInputTokens": 2, "cacheWriteInputTokens": None
    }  # fmt: skip
    assert outcome.tool_calls == (ToolCall("t1", "calc", {"e": "1+1"}),)
    assert outcome.reasoning == (ReasoningBlock("Let me think.", "sig"), ReasoningBlock(redacted="b3BhcXVl"))
    assert ended == ["Calling."]


def test_a_v2_request_lists_cache_usage_even_when_the_upstream_gave_none():
    poster = RecordingPoster()
    run(FakeUpstream([TextDelta("x"), Stop("end_turn", 1, 1)]), poster, Guards(plenty_of_time, usage_cache=True))
    assert poster.frames[-1]["usage"] == {
        "inputTokens": 1, "outputTokens": 1, "cacheReadInputTokens": None, "cacheWriteInputTokens": None
    }  # fmt: skip


def test_reasoning_counts_toward_estimated_output_tokens():
    poster = RecordingPoster()
    outcome = run(FakeUpstream([ReasoningDelta("r" * 30), TextDelta("t" * 3), Stop("end_turn")]), poster)
    assert outcome.estimated == ("outputTokens",)
    assert outcome.output_tokens == 11  # (30 + 3) characters / 3


def test_invalid_tool_input_ends_the_answer_with_model_error_after_the_text():
    poster = RecordingPoster()
    error = parse_tool_input("t1", "calc", '{"e": ')
    assert isinstance(error, UpstreamError)
    run(FakeUpstream([TextDelta("Calling."), error]), poster)
    assert [f["type"] for f in poster.frames] == ["start", "delta", "error"]
    assert poster.frames[-1]["code"] == "model_error"


def test_a_call_too_large_for_one_frame_ends_the_answer_with_model_error():
    poster = RecordingPoster()
    upstream = FakeUpstream([TextDelta("Calling."), ToolUse("t1", "calc", {"e": "x" * 40_000}), Stop("tool_use")])
    outcome = run(upstream, poster)
    assert [f["type"] for f in poster.frames] == ["start", "delta", "error"]
    assert poster.frames[-1]["code"] == "model_error"
    assert outcome.upstream_closed_early
