"""Admission of the v2 fields: every refusal names its field; results must answer the last answer's calls."""

from __future__ import annotations

import pytest

from lambdas.answer.tools import MAX_TOOLS, check_capabilities, check_tool_results, parse_tool_fields
from lambdas.catalogue import parse_catalogue
from lambdas.providers.content import ToolCall, ToolResult
from lambdas.requests import BadRequestError, SendText, parse
from lambdas.store.conversations import Conversation, Turn

TOOL = {"name": "calc", "description": "d", "inputSchema": {"type": "object"}}


def fields(**message):
    return parse_tool_fields(parse(SendText, {"action": "sendtext", "text": "hi", **message}))


def refused(**message) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        fields(**message)
    return caught.value


def test_a_full_v2_request_is_read():
    read = fields(
        tools=[TOOL],
        toolChoice={"name": "calc"},
        toolResults=[{"toolUseId": "t1", "content": {"v": 1}, "status": "error"}],
        conversationId="c1",
        reasoning={"budgetTokens": 4096},
    )
    assert [tool.name for tool in read.tools] == ["calc"]
    assert read.tool_choice == {"name": "calc"}
    assert read.tool_results == (ToolResult("t1", {"v": 1}, "error"),)
    assert read.reasoning_budget == 4096
    assert fields(reasoning=True).reasoning_budget == 1024
    assert not fields().asked


def test_text_is_optional_only_with_tool_results():
    request = parse(SendText, {"action": "sendtext", "toolResults": [{"toolUseId": "t", "content": "x"}]})
    assert request.text == ""
    with pytest.raises(BadRequestError) as caught:
        parse(SendText, {"action": "sendtext", "tools": [TOOL]})
    assert caught.value.field == "text"


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ({"tools": "calc"}, "tools", "got `str`"),
        ({"tools": [TOOL, TOOL]}, "tools", "duplicate"),
        ({"tools": [{**TOOL, "name": "a b"}]}, "tools", "letters, digits"),
        ({"tools": [{**TOOL, "name": "x" * 65}]}, "tools", "letters, digits"),
        ({"tools": [{**TOOL, "inputSchema": {"type": "array"}}]}, "tools", '"type": "object"'),
        ({"tools": [{**TOOL, "inputSchema": []}]}, "tools", '"type": "object"'),
        ({"tools": [{**TOOL, "extra": 1}]}, "tools", "unknown field"),
        ({"tools": [{**TOOL, "name": f"t{i}"} for i in range(MAX_TOOLS + 1)]}, "tools", "at most 64"),
        ({"tools": [TOOL], "toolChoice": {"name": "other"}}, "toolChoice", "names no tool"),
        ({"tools": [TOOL], "toolChoice": "maybe"}, "toolChoice", "is not"),
        ({"toolChoice": "any"}, "toolChoice", "needs tools"),
        ({"tools": [TOOL], "toolResults": [{"toolUseId": "t", "content": "x"}]}, "toolResults", "conversationId"),
        ({"toolResults": [{"toolUseId": "t", "content": "x"}], "conversationId": "c"}, "tools", "required"),
        ({"tools": [TOOL], "toolResults": [], "conversationId": "c"}, "toolResults", "at least one"),
        ({"tools": [TOOL], "toolResults": [{"toolUseId": "t"}], "conversationId": "c"}, "toolResults", "content"),
        (
            {"tools": [TOOL], "toolResults": [{"toolUseId": "t", "content": 1, "status": "ok"}], "conversationId": "c"},
            "toolResults",
            "status",
        ),
        (
            {"tools": [TOOL], "toolResults": [{"toolUseId": "t", "content": 1}] * 2, "conversationId": "c"},
            "toolResults",
            "second result",
        ),
        (
            {"tools": [TOOL], "toolResults": [{"toolUseId": "t", "content": "x" * 40_000}], "conversationId": "c"},
            "toolResults",
            "at most",
        ),
        (
            {"tools": [TOOL], "toolResults": [{"toolUseId": "t", "content": "\n" * 15_000}], "conversationId": "c"},
            "toolResults",
            "at most",  # 15 000 characters, but 30 000 bytes once escaped in a frame
        ),
        ({"reasoning": "yes"}, "reasoning", "expected"),
        ({"reasoning": {"budgetTokens": 5}}, "reasoning", "1024 to"),
        ({"reasoning": {"budget": 5000}}, "reasoning", "budgetTokens"),
    ],
)
def test_each_bad_v2_field_is_refused_naming_it(message, field, words):
    error = refused(**message)
    assert error.field == field
    assert words in str(error)


def test_a_model_without_tools_or_reasoning_refuses_them():
    catalogue = parse_catalogue(
        {"default": "llama", "models": {"llama": {"provider": "bedrock", "modelId": "meta.llama3-8b-instruct-v1:0"}}}
    )
    spec = catalogue.models["llama"]
    for message, field in (({"tools": [TOOL]}, "tools"), ({"reasoning": True}, "reasoning")):
        with pytest.raises(BadRequestError) as caught:
            check_capabilities(fields(**message), spec, None)
        assert caught.value.field == field


def _conversation(*turns: Turn) -> Conversation:
    return Conversation("c", "u", turns=list(turns), exists=True)


CALLS = (ToolCall("t1", "calc", {}), ToolCall("t2", "clock", {}))
WAITING = _conversation(Turn(1, "user", "hi"), Turn(2, "assistant", "", stop="tool_use", tool_uses=CALLS))


def _results(*ids: str):
    return fields(tools=[TOOL], conversationId="c", toolResults=[{"toolUseId": i, "content": "x"} for i in ids])


def test_results_for_every_call_are_accepted():
    check_tool_results(_results("t2", "t1"), WAITING, None)


@pytest.mark.parametrize(
    ("ids", "conversation", "words"),
    [
        (("t1",), WAITING, "no result for toolUseId 't2'"),
        (("t1", "t2", "t3"), WAITING, "unknown toolUseId 't3'"),
        (("t1", "t2"), _conversation(Turn(1, "user", "hi"), Turn(2, "assistant", "hello", stop="end_turn")), "did not"),
        (("t1",), _conversation(), "did not stop for tool_use"),
    ],
)
def test_results_that_do_not_answer_the_last_answer_are_refused(ids, conversation, words):
    with pytest.raises(BadRequestError) as caught:
        check_tool_results(_results(*ids), conversation, None)
    assert caught.value.field == "toolResults"
    assert words in str(caught.value)
