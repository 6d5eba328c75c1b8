"""Tools and reasoning per wire format: tool input JSON cut at every offset gives the same call, input that is not
a JSON object ends the answer, and each format's request carries tools, tool choice, reasoning and the history's
calls, results and signed reasoning in its own shape."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.bedrock_converse import converse_arguments
from lambdas.providers.content import ReasoningBlock, ToolCall, ToolResult, ToolSpec
from lambdas.providers.events import ErrorKind, Event, Start, Stop, ToolUse, UpstreamError
from lambdas.providers.formats.anthropic_messages import AnthropicMessages
from lambdas.providers.formats.converse_events import ConverseEvents
from lambdas.providers.formats.openai_chat import ChatCompletionChunks, request_body
from lambdas.providers.streams import LineBuffer, SseDecoder
from lambdas.providers.tools import INVALID_TOOL_INPUT, paired
from tests.fixtures.providers.support import answer_of, expected_answer, fixture, line_body

INPUT = {"expression": '2 * "(3 + 4)" \\ naïve ✓ 🚀', "precision": 3, "nested": {"list": [1.5, None, True]}}
INPUT_JSON = json.dumps(INPUT, ensure_ascii=False)
CUTS = range(len(INPUT_JSON) + 1)


def _anthropic(fragments: list[str]) -> list[Event]:
    codec = AnthropicMessages()
    chunks = [
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "calc"}},
        *({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": f}}
          for f in fragments),
        {"type": "content_block_stop", "index": 1},
    ]  # fmt: skip
    return [event for chunk in chunks for event in codec.decode(chunk)]


def _converse(fragments: list[str]) -> list[Event]:
    decoder = ConverseEvents()
    events = [
        {"contentBlockStart": {"start": {"toolUse": {"toolUseId": "t1", "name": "calc"}}, "contentBlockIndex": 1}},
        *({"contentBlockDelta": {"delta": {"toolUse": {"input": f}}, "contentBlockIndex": 1}} for f in fragments),
        {"contentBlockStop": {"contentBlockIndex": 1}},
    ]
    return [event for item in events for event in decoder.decode(item)]


def _openai(fragments: list[str]) -> list[Event]:
    chunks = ChatCompletionChunks()
    first = {"index": 0, "id": "t1", "type": "function", "function": {"name": "calc", "arguments": ""}}
    records = [
        {"choices": [{"index": 0, "delta": {"tool_calls": [first]}}]},
        *({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": f}}]}}]}
          for f in fragments),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]  # fmt: skip
    return [event for record in records for event in chunks.data(json.dumps(record))]


DECODERS = {"anthropic-messages": _anthropic, "converse": _converse, "openai": _openai}


@pytest.mark.parametrize("wire", DECODERS)
def test_tool_input_cut_at_every_offset_gives_the_same_call(wire: str) -> None:
    for cut in CUTS:
        events = DECODERS[wire]([INPUT_JSON[:cut], INPUT_JSON[cut:]])
        assert events == [ToolUse("t1", "calc", INPUT)], f"cut at {cut}"


@pytest.mark.parametrize("wire", DECODERS)
def test_tool_input_in_one_character_fragments_gives_the_same_call(wire: str) -> None:
    assert DECODERS[wire](list(INPUT_JSON)) == [ToolUse("t1", "calc", INPUT)]


@pytest.mark.parametrize("wire", DECODERS)
@pytest.mark.parametrize("bad", ['{"expression": "2 +', "[1, 2]", "not json", '"a string"'])
def test_tool_input_that_is_not_a_json_object_ends_the_answer_with_model_error(wire: str, bad: str) -> None:
    (event,) = DECODERS[wire]([bad])
    assert isinstance(event, UpstreamError)
    assert (event.kind, event.upstream_code) == (ErrorKind.MODEL_ERROR, INVALID_TOOL_INPUT)


@pytest.mark.parametrize("wire", DECODERS)
def test_a_tool_without_input_is_called_with_an_empty_object(wire: str) -> None:
    assert DECODERS[wire]([]) == [ToolUse("t1", "calc", {})]


def _sse_events(body: bytes, cut: int) -> Iterator[Event]:
    buffer, sse, chunks = LineBuffer(), SseDecoder(), ChatCompletionChunks()
    yield Start("m")
    for line in [*buffer.feed(body[:cut]), *buffer.feed(body[cut:]), *buffer.end()]:
        if (event := sse.feed(line)) is not None:
            yield from chunks.data(event)
            if chunks.done:
                return


def test_the_openai_tool_fixture_survives_its_sse_body_cut_at_every_byte() -> None:
    data = fixture("openai-tools")
    body = line_body(data)
    for cut in range(len(body) + 1):
        assert answer_of(_sse_events(body, cut)) == expected_answer(data), f"cut at byte {cut}"


# -- requests --

CALC = ToolSpec("calc", "Evaluates arithmetic.", {"type": "object", "properties": {"e": {"type": "string"}}})
CALL = ToolCall("t1", "calc", {"e": "1+1"})
SIGNED = ReasoningBlock("I should add.", "sig-1")
REDACTED = ReasoningBlock(redacted="b3BhcXVl")


def _loop(**changes) -> ModelRequest:
    messages = (
        Message("user", "add"),
        Message("assistant", "Adding.", tool_uses=(CALL,), reasoning=(SIGNED, REDACTED)),
        Message("user", "", tool_results=(ToolResult("t1", {"v": 2}), )),
    )  # fmt: skip
    base = {"messages": messages, "max_tokens": 100, "tools": (CALC,), "reasoning_budget": 2048, "temperature": 0.5}
    return ModelRequest(**{**base, **changes})


def test_anthropic_body_carries_tools_thinking_and_the_signed_reasoning_back() -> None:
    body = AnthropicMessages().body(_loop(tool_choice={"name": "calc"}))
    assert body["tools"] == [{"name": "calc", "input_schema": CALC.input_schema, "description": CALC.description}]
    assert body["tool_choice"] == {"type": "tool", "name": "calc"}
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 100 + 2048, "the answer keeps its maxTokens on top of the thinking budget"
    assert "temperature" not in body, "thinking requires the default temperature"
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "I should add.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "b3BhcXVl"},
        {"type": "text", "text": "Adding."},
        {"type": "tool_use", "id": "t1", "name": "calc", "input": {"e": "1+1"}},
    ]
    assert body["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "t1", "content": '{"v":2}'}]


def test_converse_arguments_carry_tool_config_thinking_and_the_blocks() -> None:
    arguments = converse_arguments("m", _loop(tool_choice="any"))
    assert arguments["toolConfig"] == {
        "tools": [{"toolSpec": {"name": "calc", "inputSchema": {"json": CALC.input_schema},
                                "description": CALC.description}}],
        "toolChoice": {"any": {}},
    }  # fmt: skip
    assert arguments["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert arguments["inferenceConfig"] == {"maxTokens": 2148}
    assert arguments["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "I should add.", "signature": "sig-1"}}},
        {"reasoningContent": {"redactedContent": b"opaque"}},
        {"text": "Adding."},
        {"toolUse": {"toolUseId": "t1", "name": "calc", "input": {"e": "1+1"}}},
    ]
    assert arguments["messages"][2]["content"] == [
        {"toolResult": {"toolUseId": "t1", "content": [{"json": {"v": 2}}], "status": "success"}}
    ]


def test_converse_has_no_tool_choice_none_so_such_a_request_goes_without_tools() -> None:
    arguments = converse_arguments("m", _loop(tool_choice="none", reasoning_budget=None, temperature=None))
    assert "toolConfig" not in arguments
    assert [block for message in arguments["messages"] for block in message["content"]] == [
        {"text": "add"},
        {"text": '[called tool calc with {"e": "1+1"}]\nAdding.'},
        {"text": '[tool result: {"v":2}]'},
    ]


def test_openai_body_carries_tools_reasoning_effort_and_tool_messages() -> None:
    body = request_body("gpt", _loop(tool_choice="any", reasoning_budget=20_000))
    assert body["tools"] == [
        {"type": "function", "function": {"name": "calc", "parameters": CALC.input_schema,
                                          "description": CALC.description}}
    ]  # fmt: skip
    assert body["tool_choice"] == "required"
    assert body["reasoning_effort"] == "high"
    assert body["messages"][1:] == [
        {"role": "assistant", "content": "Adding.",
         "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "calc", "arguments": '{"e": "1+1"}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": '{"v":2}'},
    ]  # fmt: skip


def test_a_v1_request_is_unchanged() -> None:
    request = ModelRequest((Message("user", "hi"),), 10, temperature=0.3)
    assert AnthropicMessages().body(request)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}
    ]
    assert set(AnthropicMessages().body(request)) == {"anthropic_version", "max_tokens", "messages", "temperature"}
    assert set(converse_arguments("m", request)) == {"modelId", "messages", "inferenceConfig"}
    assert request_body("m", request)["messages"] == [{"role": "user", "content": "hi"}]


def test_unanswered_calls_and_orphaned_results_are_written_as_text() -> None:
    messages = (
        Message("user", "add"),
        Message("assistant", "", tool_uses=(CALL,)),
        Message("user", "never mind"),  # the client did not answer the call
        Message("assistant", "ok"),
        Message("user", "", tool_results=(ToolResult("gone", "x"),)),  # its call fell out of the history
    )
    fixed = paired(messages)
    assert fixed[1] == Message("assistant", '[called tool calc with {"e": "1+1"}]')
    assert fixed[4] == Message("user", "[tool result: x]")
    assert paired(_loop().messages) == _loop().messages


def test_stop_carries_cache_usage_from_each_format() -> None:
    for name in ("bedrock-anthropic-messages-tools", "converse-tools", "openai-tools"):
        stop = expected_answer(fixture(name)).stop
        assert isinstance(stop, Stop) and stop.cache_read_input_tokens is not None, name
