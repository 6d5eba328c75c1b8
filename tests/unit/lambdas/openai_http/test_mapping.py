"""A chat completions body → the relay's ModelRequest, and every refusal naming OpenAI's `param`."""

from __future__ import annotations

import json

import pytest

from lambdas.config import Settings
from lambdas.openai_http.errors import ApiError
from lambdas.openai_http.mapping import map_request
from lambdas.openai_http.schema import parse_request
from lambdas.providers.base import Message


def config(**changes: object) -> Settings:
    values: dict[str, object] = {
        "table_name": "t",
        "model_id": "m",
        "max_tokens_default": 1024,
        "max_tokens_limit": 8192,
        "max_text_chars": 100,
        "connections_endpoint": None,
        "connection_ttl_seconds": 7800,
        "coalesce_ms": 50,
        "coalesce_max_chars": 4096,
        "gone_grace_seconds": 10.0,
        "time_guard_ms": 5000,
        "post_max_attempts": 6,
        "control_poll_ms": 250,
        "answer_ttl_seconds": 86400,
        "conversation_ttl_seconds": 86400,
        "history_max_chars": 40,
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def mapped(body: dict, **changes: object):
    return map_request(parse_request(json.dumps({"model": "claude", **body}).encode()), config(**changes))


def refusal(body: object) -> ApiError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ApiError) as refused:
        map_request(parse_request(raw), config())
    assert refused.value.status == 400
    return refused.value


def test_the_simplest_request_is_one_user_turn_with_the_default_max_tokens():
    result = mapped({"messages": [{"role": "user", "content": "Hello"}]})
    assert result.model == "claude"
    assert result.request.messages == (Message("user", "Hello"),)
    assert result.request.max_tokens == 1024
    assert (result.stream, result.include_usage) == (False, False)


def test_system_and_developer_messages_become_the_system_prompt_in_order():
    result = mapped(
        {
            "messages": [
                {"role": "system", "content": "A"},
                {"role": "user", "content": "Hi"},
                {"role": "developer", "content": "B"},
            ]
        }
    )
    assert result.request.system == "A\n\nB"
    assert result.request.messages == (Message("user", "Hi"),)


def test_consecutive_messages_of_one_role_are_joined_and_text_parts_concatenated():
    result = mapped(
        {
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": "!"}]},
                {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "three"},
            ]
        }
    )
    assert result.request.messages == (
        Message("user", "one\n\ntwo!"),
        Message("assistant", "ok"),
        Message("user", "three"),
    )


def test_history_past_the_budget_drops_the_oldest_whole_turns():
    turns = [
        {"role": "user", "content": "u" * 15},
        {"role": "assistant", "content": "a" * 15},
        {"role": "user", "content": "v" * 10},
        {"role": "assistant", "content": "b" * 10},
        {"role": "user", "content": "now"},
    ]
    result = mapped({"messages": turns}, history_max_chars=40)
    assert result.request.messages == (
        Message("user", "v" * 10),
        Message("assistant", "b" * 10),
        Message("user", "now"),
    )


def test_max_completion_tokens_wins_over_max_tokens_and_stop_temperature_map():
    result = mapped(
        {
            "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 5,
            "max_completion_tokens": 9,
            "stop": "END",
            "temperature": 0.2,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert result.request.max_tokens == 9
    assert result.request.stop_sequences == ("END",)
    assert result.request.temperature == 0.2
    assert (result.stream, result.include_usage) == (True, True)


USER = {"role": "user", "content": "x"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
}
RESULT = {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}

NEGATIVE_CASES = [
    (b"not json", None),
    (b"[1]", None),
    ({"messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": "claude"}, "messages"),
    ({"model": "claude", "messages": []}, "messages"),
    ({"model": "claude", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x", "colour": 1}]}, "messages[0].colour"),
    ({"model": "claude", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"model": "claude", "messages": [{"role": "user"}]}, "messages[0].content"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x" * 101}]}, "messages[0].content"),
    ({"model": "claude", "messages": [{"role": "user", "content": " "}]}, "messages[0].content"),
    ({"model": "claude", "messages": [{"role": "user", "content": "\ud800"}]}, "messages[0].content"),
    ({"model": "claude", "messages": [{"role": "assistant", "content": "x"}]}, "messages"),
    (
        {"model": "claude", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
        "messages",
    ),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}], "max_tokens": 8193}, "max_tokens"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"}, "max_tokens"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}], "temperature": 2}, "temperature"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}], "stop": ["a"] * 5}, "stop"),
    ({"model": "claude", "messages": [{"role": "user", "content": "x"}], "top_p": 0.5}, "top_p"),
    ({"model": "claude", "messages": [USER], "tool_choice": "required"}, "tool_choice"),
    (
        {
            "model": "claude",
            "messages": [USER],
            "tools": [TOOL],
            "tool_choice": {"type": "function", "function": {"name": "g"}},
        },
        "tool_choice",
    ),
    ({"model": "claude", "messages": [USER], "tools": [TOOL, TOOL]}, "tools[1].function.name"),
    (
        {
            "model": "claude",
            "messages": [USER],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}],
        },
        "tools[0].function.parameters",
    ),
    (
        {"model": "claude", "messages": [USER], "tools": [{"type": "function", "function": {"name": "bad name"}}]},
        "tools[0].function.name",
    ),
    ({"model": "claude", "messages": [USER, CALL, RESULT]}, "tools"),
    (
        {"model": "claude", "messages": [USER, CALL, {**RESULT, "tool_call_id": "call_2"}], "tools": [TOOL]},
        "messages[2].tool_call_id",
    ),
    (
        {"model": "claude", "messages": [USER, CALL, {"role": "tool", "content": "sunny"}], "tools": [TOOL]},
        "messages[2].tool_call_id",
    ),
    ({"model": "claude", "messages": [USER, CALL, RESULT, RESULT], "tools": [TOOL]}, "messages[3].tool_call_id"),
    (
        {
            "model": "claude",
            "messages": [
                USER,
                {**CALL, "tool_calls": [{**CALL["tool_calls"][0], "function": {"name": "f", "arguments": "[1]"}}]},
                RESULT,
            ],
            "tools": [TOOL],
        },
        "messages[1].tool_calls[0].function.arguments",
    ),
    ({"model": "claude", "messages": [USER], "reasoning_effort": "extreme"}, "reasoning_effort"),
]


@pytest.mark.parametrize(
    ("body", "param"),
    NEGATIVE_CASES,
    ids=[
        "not-json", "not-object", "no-model", "no-messages", "empty-messages", "bad-role", "unknown-message-field",
        "content-type", "user-without-content", "text-too-long", "blank-text", "lone-surrogate", "no-user",
        "ends-with-assistant", "max-tokens-over-limit", "max-tokens-string", "temperature", "n", "too-many-stops",
        "top-p", "required-without-tools", "choice-names-no-tool", "duplicate-tool", "schema-not-object",
        "tool-name", "calls-without-tools", "result-for-no-call", "result-without-id", "second-result",
        "arguments-not-object", "effort",
    ],
)  # fmt: skip
def test_a_bad_request_names_its_param(body, param):
    error = refusal(body)
    assert error.param == param
    assert error.body()["error"]["type"] == "invalid_request_error"
    if param:
        assert error.message.startswith(param)


def test_tools_calls_and_results_become_the_relays_v2_request():
    result = mapped(
        {
            "messages": [USER, {**CALL, "content": "Let me look."}, RESULT, {"role": "user", "content": "And?"}],
            "tools": [{"type": "function", "function": {"name": "f", "description": "d"}}],
            "tool_choice": "required",
        }
    )
    request = result.request
    assert [(t.name, t.description, t.input_schema) for t in request.tools] == [
        ("f", "d", {"type": "object", "properties": {}})
    ]
    assert request.tool_choice == "any"
    assistant, answered = request.messages[1], request.messages[2]
    assert (assistant.text, [(c.tool_use_id, c.name, c.input) for c in assistant.tool_uses]) == (
        "Let me look.", [("call_1", "f", {"a": 1})]
    )  # fmt: skip
    assert (answered.text, [(r.tool_use_id, r.content) for r in answered.tool_results]) == (
        "And?",
        [("call_1", "sunny")],
    )
    assert result.tool_fields.tool_results == answered.tool_results


def test_a_function_tool_choice_names_the_tool():
    result = mapped(
        {"messages": [USER], "tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "f"}}}
    )
    assert result.request.tool_choice == {"name": "f"}


@pytest.mark.parametrize(
    ("effort", "budget"), [("minimal", 1024), ("low", 2048), ("medium", 8192), ("high", 32768), ("none", None)]
)
def test_reasoning_effort_becomes_a_reasoning_budget(effort, budget):
    result = mapped({"messages": [USER], "reasoning_effort": effort})
    assert result.request.reasoning_budget == budget == result.tool_fields.reasoning_budget


def test_a_turn_that_answers_tool_calls_is_not_asked_to_reason_again():
    result = mapped({"messages": [USER, CALL, RESULT], "tools": [TOOL], "reasoning_effort": "high"})
    assert result.request.reasoning_budget is None


def test_an_unanswered_call_in_history_is_sent_as_text():
    result = mapped({"messages": [USER, CALL, {"role": "user", "content": "never mind"}], "tools": [TOOL]})
    assert not result.request.messages[1].tool_uses
    assert "f" in result.request.messages[1].text
