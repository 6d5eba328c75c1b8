"""Protocol v2 end to end (issue 14): tool calls and reasoning through localgw, the real handlers, real boto3 and
urllib3 upstream clients and the simulator speaking Anthropic Messages, Converse and OpenAI chat.

The simulator's tool call and reasoning depend only on the conversation (docs/simulator.md): every alias that
supports tools must deliver the same call, and the tool result must reach the model (`Turn k. Tool NAME returned:
CONTENT`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.protocol import MAX_FRAME_BYTES, encode
from localgw.simulator.script import SimConversation, SimMessage, SimTool, SimToolResult, plan_reply, sample_input
from tests.e2e.client import answer_text, ask, collect, recv, send
from tests.fakes import assert_well_formed

TOOL_ALIASES = ["claude", "converse", "openai"]
"""The local catalogue's aliases whose wire format carries tools and reasoning (docs/localgw.md)."""
NO_TOOLS_ALIAS = "llama"
FAST = "rate=100000 ttft=0"
CALCULATOR = {
    "name": "calculator",
    "description": "Evaluates an arithmetic expression.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "expression": {"type": "string"},
            "precision": {"type": "integer"},
            "exact": {"type": "boolean"},
            "unit": {"type": "string", "enum": ["none", "metre"]},
        },
        "required": ["expression", "precision", "exact", "unit"],
    },
}
CLOCK = {"name": "clock", "inputSchema": {"type": "object", "properties": {}}}
TOOLS = [CALCULATOR, CLOCK]
SIM_TOOLS = tuple(SimTool(tool["name"], tool["inputSchema"]) for tool in TOOLS)


def _of(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame["type"] == kind]


def _reasoning(frames: list[dict[str, Any]]) -> str:
    return "".join(frame.get("text", "") for frame in _of(frames, "reasoning"))


def _still_usable(ws: Any) -> None:
    send(ws, {"action": "models"})
    assert recv(ws)["type"] == "models"


# -- capabilities --


def test_the_models_frame_lists_tools_and_reasoning_per_alias(connect) -> None:
    ws = connect()
    send(ws, {"action": "models"})
    models = {entry["id"]: entry for entry in recv(ws)["models"]}
    assert {alias for alias, entry in models.items() if entry["tools"]} == set(TOOL_ALIASES)
    assert {alias for alias, entry in models.items() if entry["reasoning"]} == set(TOOL_ALIASES)


# -- a tool round trip on every alias that supports tools --


@pytest.mark.parametrize("alias", TOOL_ALIASES)
def test_a_tool_round_trip_reaches_the_model_and_is_kept_in_history(connect, alias: str) -> None:
    ws = connect()
    text = f"What is 2 * (3 + 4)? [[sim tool=calculator tokens=12 {FAST}]]"
    first = ask(ws, text, model=alias, tools=TOOLS)

    # GIVEN the model asked for the calculator
    assert_well_formed(first, first[0]["requestId"])
    (call,) = _of(first, "tool_use")
    assert call["name"] == "calculator"
    assert call["input"] == sample_input(CALCULATOR["inputSchema"])
    assert first.index(call) == len(first) - 2, "the call comes after the text, right before done"
    done = first[-1]
    assert done["stopReason"] == "tool_use"
    plan = plan_reply(SimConversation((SimMessage("user", text),), tools=SIM_TOOLS, reports_cache=True))
    assert answer_text(first) == plan.text
    assert done["usage"]["outputTokens"] == plan.output_tokens
    assert "cacheReadInputTokens" in done["usage"] and "cacheWriteInputTokens" in done["usage"]

    # WHEN the client answers it
    conversation_id = first[0]["conversationId"]
    result = {"value": 14, "note": "exact ✓"}
    second = _send_results(ws, alias, conversation_id, [{"toolUseId": call["toolUseId"], "content": result}])

    # THEN the model saw the result, as sent
    assert second[-1]["type"] == "done", second[-1]
    assert second[-1]["stopReason"] == "end_turn"
    content = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
    assert answer_text(second).startswith(f"Turn 2. Tool calculator returned: {content}")
    expected = plan_reply(
        SimConversation(
            (
                SimMessage("user", text),
                SimMessage("assistant", plan.text),
                SimMessage("user", "", (SimToolResult("calculator", content),)),
            ),
            tools=SIM_TOOLS,
        )
    )
    assert answer_text(second) == expected.text

    # AND the history holds the call and the result
    send(ws, {"action": "history", "conversationId": conversation_id})
    turns = recv(ws)["turns"]
    assert [turn["role"] for turn in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[1]["toolUses"] == [{"toolUseId": call["toolUseId"], "name": "calculator", "input": call["input"]}]
    assert (turns[1]["stop"], turns[1]["status"]) == ("tool_use", "complete")
    assert turns[2]["toolResults"] == [{"toolUseId": call["toolUseId"], "content": result, "status": "success"}]
    assert "toolUses" not in turns[3] and "toolResults" not in turns[0]


def _send_results(ws: Any, alias: str, conversation_id: str, results: list[dict[str, Any]], **extra: Any) -> list:
    send(
        ws,
        {
            "action": "sendtext",
            "model": alias,
            "tools": TOOLS,
            "conversationId": conversation_id,
            "toolResults": results,
            **extra,
        },
    )
    return collect(ws)


def test_every_tool_alias_makes_the_same_call_for_the_same_request(connect) -> None:
    ws = connect()
    calls = {}
    for alias in TOOL_ALIASES:
        frames = ask(ws, f"Same call please [[sim tool=calculator tokens=5 {FAST}]]", model=alias, tools=TOOLS)
        (call,) = _of(frames, "tool_use")
        calls[alias] = (call["name"], call["input"])
    assert len(set(json.dumps(call, sort_keys=True) for call in calls.values())) == 1, calls


@pytest.mark.parametrize("alias", TOOL_ALIASES)
def test_reasoning_frames_come_before_the_text(connect, alias: str) -> None:
    text = f"Think first [[sim think=40 tokens=20 {FAST}]]"
    frames = ask(connect(), text, model=alias, reasoning=True)

    assert_well_formed(frames, frames[0]["requestId"])
    kinds = [frame["type"] for frame in frames]
    assert kinds.index("delta") > max(i for i, kind in enumerate(kinds) if kind == "reasoning")
    plan = plan_reply(SimConversation.of(("user", text)))
    assert _reasoning(frames) == plan.reasoning
    assert answer_text(frames) == plan.text
    assert plan.reasoning not in answer_text(frames)
    # Reasoning tokens are output tokens (the daily quota charges them).
    assert frames[-1]["usage"]["outputTokens"] == plan.output_tokens == 20 + 40


def test_a_v1_request_sees_reasoning_only_when_the_model_produces_it(connect) -> None:
    plain = ask(connect(), f"no thinking [[sim tokens=10 {FAST}]]")
    assert {frame["type"] for frame in plain} == {"start", "delta", "done"}
    assert set(plain[-1]["usage"]) == {"inputTokens", "outputTokens"}


@pytest.mark.parametrize("alias", ["claude", "converse"])
def test_a_thinking_tool_loop_gives_the_signed_reasoning_back(connect, alias: str) -> None:
    """The simulator refuses (like Anthropic) a continued tool turn whose assistant message does not start with
    its reasoning, signed as the model signed it: the second answer proves the relay stored and replayed both."""
    ws = connect()
    text = f"Think, then call [[sim think=12 tool=clock tokens=6 {FAST}]]"
    first = ask(ws, text, model=alias, tools=TOOLS, reasoning={"budgetTokens": 2048})
    (call,) = _of(first, "tool_use")
    second = _send_results(
        ws, alias, first[0]["conversationId"], [{"toolUseId": call["toolUseId"], "content": "12:00"}], reasoning=True
    )
    assert second[-1]["type"] == "done", second[-1]
    assert answer_text(second).startswith("Turn 2. Tool clock returned: 12:00")
    assert _reasoning(second) != ""  # the think directive applies to the whole conversation
    # The history returns the reasoning (its text; the signature stays with the relay).
    send(ws, {"action": "history", "conversationId": first[0]["conversationId"]})
    turns = recv(ws)["turns"]
    assert turns[1]["reasoning"] == _reasoning(first)
    assert "signature" not in json.dumps(turns)


# -- resume in the middle of reasoning and of a tool call --


def _drop_and_resume(connect, user: str, message: dict[str, Any], drop_after: int) -> list[dict[str, Any]]:
    ws = connect(user)
    send(ws, {"action": "sendtext", **message})
    received = [recv(ws) for _ in range(drop_after)]
    ws.close()
    again = connect(user)
    send(again, {"action": "resume", "requestId": received[0]["requestId"], "after": received[-1]["seq"]})
    return received + collect(again)


def test_resume_in_the_middle_of_reasoning_gives_the_uninterrupted_answer(connect) -> None:
    text = "Long thought [[sim think=400 tokens=30 rate=800 ttft=0]]"
    frames = _drop_and_resume(connect, "resume-reasoning", {"text": text, "reasoning": True}, 2)
    assert frames[1]["type"] == "reasoning"
    assert_well_formed(frames, frames[0]["requestId"])
    plan = plan_reply(SimConversation.of(("user", text)))
    assert _reasoning(frames) == plan.reasoning
    assert answer_text(frames) == plan.text


@pytest.mark.parametrize("alias", TOOL_ALIASES)
def test_resume_in_the_middle_of_a_tool_call_gives_the_uninterrupted_answer(connect, alias: str) -> None:
    # The call's input streams in slow fragments after the text: the connection drops while it does.
    text = "Slow call [[sim tool=calculator tokens=3 rate=25 ttft=0]]"
    message = {"text": text, "model": alias, "tools": TOOLS}
    frames = _drop_and_resume(connect, f"resume-tool-{alias}", message, 2)
    assert frames[1]["type"] == "delta", "dropped while the text streamed, before the call's input did"
    assert_well_formed(frames, frames[0]["requestId"])
    (call,) = _of(frames, "tool_use")
    assert call["input"] == sample_input(CALCULATOR["inputSchema"])
    assert frames[-1]["stopReason"] == "tool_use"
    assert answer_text(frames) == plan_reply(SimConversation((SimMessage("user", text),), tools=SIM_TOOLS)).text
    # and the stored answer replays the same frames
    ws = connect(f"resume-tool-{alias}")
    send(ws, {"action": "resume", "requestId": frames[0]["requestId"], "after": -1})
    assert collect(ws) == frames


# -- bad input: a clear bad_request naming the field, and the socket stays usable --

TOO_MANY = [{"name": f"t{i}", "inputSchema": {"type": "object"}} for i in range(65)]
BAD_REQUESTS = {
    "tools not a list": ({"tools": {"name": "x"}}, "tools"),
    "duplicate tool names": ({"tools": [CLOCK, CLOCK]}, "tools"),
    "invalid tool name": ({"tools": [{"name": "no spaces", "inputSchema": {"type": "object"}}]}, "tools"),
    "schema not an object": ({"tools": [{"name": "x", "inputSchema": {"type": "string"}}]}, "tools"),
    "schema not a JSON object": ({"tools": [{"name": "x", "inputSchema": "object"}]}, "tools"),
    "more than 64 tools": ({"tools": TOO_MANY}, "tools"),
    "toolChoice naming no tool": ({"tools": TOOLS, "toolChoice": {"name": "nope"}}, "toolChoice"),
    "toolChoice unknown": ({"tools": TOOLS, "toolChoice": "sometimes"}, "toolChoice"),
    "toolResults without conversationId": (
        {"tools": TOOLS, "toolResults": [{"toolUseId": "a", "content": "x"}]},
        "toolResults",
    ),
    "reasoning on a model without it": ({"model": NO_TOOLS_ALIAS, "reasoning": True}, "reasoning"),
    "tools on a model without them": ({"model": NO_TOOLS_ALIAS, "tools": TOOLS}, "tools"),
    "reasoning budget too small": ({"reasoning": {"budgetTokens": 10}}, "reasoning"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_tool_and_reasoning_fields_are_refused_naming_the_field(connect, relay_gateway, case: str) -> None:
    fields, field = BAD_REQUESTS[case]
    ws = connect()
    before = len(_simulator_requests(relay_gateway))
    send(ws, {"action": "sendtext", "text": "hi [[sim tokens=3 rate=inf ttft=0]]", "requestId": "bad-1", **fields})
    refusal = recv(ws)
    assert (refusal["type"], refusal["code"], refusal["field"]) == ("error", "bad_request", field), refusal
    assert "seq" not in refusal
    assert len(encode(refusal)) < MAX_FRAME_BYTES
    _still_usable(ws)
    assert len(_simulator_requests(relay_gateway)) == before, "refused before any model call"


def _simulator_requests(relay_gateway: Any) -> list[Any]:
    from tests.e2e.client import simulator_records

    return simulator_records(relay_gateway.url)


def _tool_turn(ws: Any, alias: str = "claude") -> tuple[str, list[dict[str, Any]]]:
    frames = ask(ws, f"Call it [[sim tool=calculator tokens=4 {FAST}]]", model=alias, tools=TOOLS)
    assert frames[-1]["stopReason"] == "tool_use", frames[-1]
    return frames[0]["conversationId"], _of(frames, "tool_use")


def test_tool_results_for_an_unknown_call_are_refused(connect) -> None:
    ws = connect()
    conversation_id, (call,) = _tool_turn(ws)
    results = [{"toolUseId": call["toolUseId"], "content": "x"}, {"toolUseId": "toolu_nope", "content": "y"}]
    refusal = _send_results(ws, "claude", conversation_id, results)[-1]
    assert (refusal["code"], refusal["field"]) == ("bad_request", "toolResults")
    assert "toolu_nope" in refusal["message"]
    _still_usable(ws)


def test_tool_results_missing_a_call_are_refused(connect) -> None:
    ws = connect()
    conversation_id, (call,) = _tool_turn(ws)
    # A result, but not for the real call: that call has no answer.
    results = [{"toolUseId": "other", "content": "x"}]
    refusal = _send_results(ws, "claude", conversation_id, results)[-1]
    assert (refusal["code"], refusal["field"]) == ("bad_request", "toolResults")
    assert f"no result for toolUseId {call['toolUseId']!r}" in refusal["message"]
    # And the real call, answered, still goes through afterwards.
    answered = _send_results(ws, "claude", conversation_id, [{"toolUseId": call["toolUseId"], "content": "ok"}])
    assert answered[-1]["type"] == "done", answered[-1]


def test_tool_results_when_the_last_answer_did_not_stop_for_tool_use_are_refused(connect) -> None:
    ws = connect()
    first = ask(ws, f"plain [[sim tokens=4 {FAST}]]")
    refusal = _send_results(ws, "claude", first[0]["conversationId"], [{"toolUseId": "x", "content": "y"}])[-1]
    assert (refusal["code"], refusal["field"]) == ("bad_request", "toolResults")
    assert "tool_use" in refusal["message"]
    _still_usable(ws)


def test_a_client_that_ignores_a_tool_call_can_go_on_talking(connect) -> None:
    """A tool call the client never answers is replayed as text: the upstream would refuse it unanswered."""
    ws = connect()
    conversation_id, _ = _tool_turn(ws)
    frames = ask(ws, f"never mind [[sim tokens=8 {FAST}]]", conversationId=conversation_id, tools=TOOLS)
    assert frames[-1]["type"] == "done", frames[-1]
    assert answer_text(frames).startswith("Turn 2. You said: never mind")


def test_tool_results_sent_twice_at_once_get_one_answer(connect) -> None:
    # A buggy client (or a retry after a reconnect) sends the same results twice, both in flight together: the
    # conversation takes one follow-up answer; the other message is refused with a frame, and the socket stays usable.
    ws = connect()
    conversation_id, (call,) = _tool_turn(ws)
    message = {
        "action": "sendtext",
        "model": "claude",
        "tools": TOOLS,
        "conversationId": conversation_id,
        "toolResults": [{"toolUseId": call["toolUseId"], "content": "42"}],
    }
    send(ws, {**message, "requestId": "twice-a"})
    send(ws, {**message, "requestId": "twice-b"})
    frames = [recv(ws)]
    while sum(frame.get("type") in ("done", "error") for frame in frames) < 2:
        frames.append(recv(ws))
    endings = {frame["requestId"]: frame for frame in frames if frame["type"] in ("done", "error")}
    assert sorted(ending["type"] for ending in endings.values()) == ["done", "error"], endings
    (refusal,) = [ending for ending in endings.values() if ending["type"] == "error"]
    assert refusal["code"] in ("bad_request", "conflict") and "seq" not in refusal, refusal
    assert len(encode(refusal)) <= MAX_FRAME_BYTES
    (answered,) = [ending for ending in endings.values() if ending["type"] == "done"]
    answer = [frame for frame in frames if frame.get("requestId") == answered["requestId"]]
    assert_well_formed(answer, answered["requestId"])
    assert answer_text(answer).startswith("Turn 2. Tool calculator returned: 42")
    _still_usable(ws)
