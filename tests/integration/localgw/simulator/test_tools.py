"""The simulator's tools and reasoning, read by the relay's own providers over real boto3 and urllib3 clients:
each wire format tells the same story (the reasoning and its signature, the call, the stop, the usage), with tool
input JSON and reasoning cut at awkward points on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.bedrock_converse import BedrockConverseProvider
from lambdas.providers.bedrock_invoke import BedrockInvokeProvider
from lambdas.providers.content import ReasoningBlock, ToolCall, ToolResult, ToolSpec
from lambdas.providers.events import ReasoningDelta, ReasoningSignature, Stop, TextDelta, ToolUse, UpstreamError
from lambdas.providers.formats.anthropic_messages import AnthropicMessages
from lambdas.providers.openai_chat import OpenAIChatProvider
from localgw.simulator import SimulatorServer
from localgw.simulator.script import SimConversation, SimMessage, SimTool, plan_reply, sample_input, signature_of

SCHEMA = {
    "type": "object",
    "properties": {
        "query": {"type": "string"},
        "limit": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["query", "limit", "tags"],
}
TOOLS = (ToolSpec("search", "Searches.", SCHEMA),)
TEXT = "Find it [[sim think=25 tool=search tokens=9 rate=100000 ttft=0]]"
MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as running:
        yield running


def _bedrock(url: str) -> Any:
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client(
        "bedrock-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
        aws_secret_access_key="x", config=config,
    )  # fmt: skip


def _providers(url: str) -> dict[str, Any]:
    return {
        "anthropic-messages": BedrockInvokeProvider(_bedrock(url), MODEL_ID, AnthropicMessages),
        "converse": BedrockConverseProvider(_bedrock(url), MODEL_ID),
        "openai": OpenAIChatProvider(url + "/openai/v1", "gpt-sim", lambda: "key"),
    }


WIRES = ["anthropic-messages", "converse", "openai"]


def _request(*messages: Message, budget: int | None = 1024) -> ModelRequest:
    return ModelRequest(messages or (Message("user", TEXT),), 500, tools=TOOLS, reasoning_budget=budget)


@pytest.mark.parametrize("wire", WIRES)
def test_reasoning_then_text_then_the_call_in_every_format(server: SimulatorServer, wire: str) -> None:
    events = list(_providers(server.url)[wire].stream(_request()))
    plan = plan_reply(SimConversation((SimMessage("user", TEXT),), tools=(SimTool("search", SCHEMA),)))

    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert reasoning == plan.reasoning
    assert len([e for e in events if isinstance(e, ReasoningDelta)]) > 3, "reasoning arrives in fragments"
    signatures = [e.signature for e in events if isinstance(e, ReasoningSignature)]
    assert signatures == ([] if wire == "openai" else [signature_of(plan.reasoning)])
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == plan.text
    (call,) = [e for e in events if isinstance(e, ToolUse)]
    assert (call.name, call.input) == ("search", sample_input(SCHEMA))
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("TextDelta") > kinds.index("ReasoningDelta") and kinds.index("ToolUse") > kinds.index(
        "TextDelta"
    )
    stop = events[-1]
    assert isinstance(stop, Stop)
    assert (stop.reason, stop.output_tokens, stop.cache_read_input_tokens) == ("tool_use", plan.output_tokens, 0)


def test_the_tool_input_is_cut_inside_strings_escapes_and_multibyte_characters(server: SimulatorServer) -> None:
    plan = plan_reply(SimConversation((SimMessage("user", TEXT),), tools=(SimTool("search", SCHEMA),)))
    assert plan.tool_call is not None
    fragments = [fragment.text for fragment in plan.tool_call.fragments]
    assert "".join(fragments) == plan.tool_call.input_json
    cuts = [sum(map(len, fragments[:i])) for i in range(1, len(fragments))]
    text = plan.tool_call.input_json
    assert any(text[cut - 1] == "\\" for cut in cuts) or any(text[cut] in '"\\' for cut in cuts)
    assert any(not text[cut - 1].isspace() and not text[cut].isspace() for cut in cuts), "mid-token cuts"


@pytest.mark.parametrize("wire", WIRES)
def test_a_tool_result_reaches_the_model_in_every_format(server: SimulatorServer, wire: str) -> None:
    provider = _providers(server.url)[wire]
    first = list(provider.stream(_request()))
    (call,) = [e for e in first if isinstance(e, ToolUse)]
    reasoning = (
        ReasoningBlock(
            "".join(e.text for e in first if isinstance(e, ReasoningDelta)),
            next((e.signature for e in first if isinstance(e, ReasoningSignature)), None),
        ),
    )
    text = "".join(e.text for e in first if isinstance(e, TextDelta))
    messages = (
        Message("user", TEXT),
        Message("assistant", text, tool_uses=(ToolCall(call.tool_use_id, call.name, call.input),), reasoning=reasoning),
        Message("user", "", tool_results=(ToolResult(call.tool_use_id, ["a", 1]),)),
    )
    second = list(provider.stream(_request(*messages)))
    assert not [e for e in second if isinstance(e, UpstreamError)], second[-1]
    answer = "".join(e.text for e in second if isinstance(e, TextDelta))
    assert answer.startswith('Turn 2. Tool search returned: ["a",1]'), answer


@pytest.mark.parametrize("wire", ["anthropic-messages", "converse"])
def test_a_thinking_tool_turn_without_its_signed_reasoning_is_refused(server: SimulatorServer, wire: str) -> None:
    """As Anthropic does: the simulator checks the relay gives the reasoning back, unchanged."""
    provider = _providers(server.url)[wire]
    messages = (
        Message("user", TEXT),
        Message("assistant", "x", tool_uses=(ToolCall("t1", "search", {}),)),
        Message("user", "", tool_results=(ToolResult("t1", "r"),)),
    )
    (*_, last) = provider.stream(_request(*messages))
    assert isinstance(last, UpstreamError)
    assert "thinking" in last.message


def test_an_openai_tool_message_for_no_call_is_refused(server: SimulatorServer) -> None:
    """Tool messages answer the assistant's tool_calls by id; one for an unknown id is refused, as OpenAI does."""
    provider = _providers(server.url)["openai"]
    messages = (Message("user", "hi"), Message("user", "", tool_results=(ToolResult("nope", "x"),)))
    (*_, last) = provider.stream(_request(*messages, budget=None))
    assert isinstance(last, UpstreamError)
    assert "tool_call_id" in last.message
