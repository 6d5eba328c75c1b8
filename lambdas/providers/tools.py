"""Tools and reasoning in each wire format: request building (Anthropic Messages, Converse, OpenAI chat) and the
assembly of streamed tool-input JSON fragments into complete calls.

Independent of the WebSocket frame layer: a `ModelRequest` in, wire-format JSON out; fragments in, `ToolUse` or
`UpstreamError` events out. Any channel (the WebSocket relay, an HTTP endpoint) can reuse it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from typing import Any

from lambdas.providers.attachments import anthropic_blocks, converse_blocks, openai_content
from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.content import ReasoningBlock
from lambdas.providers.events import ErrorKind, ToolUse, UpstreamError

INVALID_TOOL_INPUT = "InvalidToolInput"
"""The `upstream_code` of the error that ends an answer whose tool input is not a JSON object."""


# -- what every format shares --------------------------------------------------------------------------------


def tool_text(message: Message) -> str:
    """A message's tool calls and results written as plain text, for a request that offers no tools (an upstream
    refuses tool blocks without tool definitions), followed by its own text."""
    lines = [
        f"[called tool {call.name} with {json.dumps(call.input, ensure_ascii=False)}]" for call in message.tool_uses
    ]
    lines += [f"[tool result: {result.text}]" for result in message.tool_results]
    if message.text:
        lines.append(message.text)
    return "\n".join(lines)


def flattened(request: ModelRequest) -> ModelRequest:
    """`request` with its history's tool blocks written as text: for a request without tools."""
    if not any(message.tool_uses or message.tool_results for message in request.messages):
        return request
    messages = tuple(
        Message(message.role, tool_text(message), reasoning=message.reasoning, attachments=message.attachments)
        if message.tool_uses or message.tool_results
        else message
        for message in request.messages
    )
    return replace(request, messages=messages)


def paired(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """`messages` with tool calls and results kept only where they answer each other (an upstream refuses a call
    without its results right after it, and results without their call right before): a call the client never
    answered, or results whose call fell out of the history budget, are written as text instead."""
    out = list(messages)
    for index, message in enumerate(out):
        if message.role == "assistant" and message.tool_uses:
            after = out[index + 1] if index + 1 < len(out) else None
            if after is None or _result_ids(after) != _call_ids(message):
                out[index] = Message("assistant", tool_text(message), reasoning=message.reasoning)
        elif message.role == "user" and message.tool_results:
            before = out[index - 1] if index > 0 else None
            if before is None or _call_ids(before) != _result_ids(message):
                out[index] = Message("user", tool_text(message), attachments=message.attachments)
    return tuple(out)


def _call_ids(message: Message) -> set[str]:
    return {call.tool_use_id for call in message.tool_uses}


def _result_ids(message: Message) -> set[str]:
    return {result.tool_use_id for result in message.tool_results}


def _replayable(reasoning: tuple[ReasoningBlock, ...]) -> tuple[ReasoningBlock, ...]:
    """Reasoning an upstream accepts back: signed or redacted blocks (an unsigned block from another model is not)."""
    return tuple(block for block in reasoning if block.redacted is not None or block.signature)


def reasoning_max_tokens(request: ModelRequest) -> int:
    """The upstream's output limit: Anthropic counts reasoning inside `max_tokens`, so the budget is added on top
    and the answer text keeps the `maxTokens` it asked for."""
    return request.max_tokens + (request.reasoning_budget or 0)


# -- Anthropic Messages --------------------------------------------------------------------------------------


def anthropic_content(message: Message, *, with_reasoning: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if with_reasoning:
        for block in _replayable(message.reasoning):
            if block.redacted is not None:
                blocks.append({"type": "redacted_thinking", "data": block.redacted})
            else:
                blocks.append({"type": "thinking", "thinking": block.text, "signature": block.signature})
    for result in message.tool_results:
        item: dict[str, Any] = {"type": "tool_result", "tool_use_id": result.tool_use_id, "content": result.text}
        if result.status == "error":
            item["is_error"] = True
        blocks.append(item)
    blocks.extend(anthropic_blocks(message))  # images and documents (issue 15), before the text
    if message.text or not (blocks or message.tool_uses):
        blocks.append({"type": "text", "text": message.text})
    blocks.extend(
        {"type": "tool_use", "id": call.tool_use_id, "name": call.name, "input": call.input}
        for call in message.tool_uses
    )
    return blocks


def anthropic_tool_fields(request: ModelRequest) -> dict[str, Any]:
    """The body keys tools and reasoning add: `tools`, `tool_choice`, `thinking`, and the raised `max_tokens`."""
    fields: dict[str, Any] = {}
    if request.tools:
        fields["tools"] = [
            {"name": tool.name, "input_schema": tool.input_schema}
            | ({"description": tool.description} if tool.description else {})
            for tool in request.tools
        ]
        choice = request.tool_choice
        fields["tool_choice"] = (
            {"type": "tool", "name": choice["name"]} if isinstance(choice, dict) else {"type": choice}
        )
    if request.reasoning_budget is not None:
        fields["thinking"] = {"type": "enabled", "budget_tokens": request.reasoning_budget}
        fields["max_tokens"] = reasoning_max_tokens(request)
    return fields


# -- Bedrock Converse ----------------------------------------------------------------------------------------


def converse_tools_request(request: ModelRequest) -> ModelRequest:
    """Converse has no `toolChoice` "none": such a request goes without tools, its history as text."""
    if not request.tools or request.tool_choice == "none":
        return flattened(replace(request, tools=()))
    return request


def converse_content(message: Message, *, with_reasoning: bool, base64_bytes: bool = False) -> list[dict[str, Any]]:
    """`base64_bytes`: attachments as base64 text, for a JSON body written by the relay (Nova invoke), not boto3."""
    blocks: list[dict[str, Any]] = []
    if with_reasoning:
        for block in _replayable(message.reasoning):
            if block.redacted is not None:
                blocks.append({"reasoningContent": {"redactedContent": _blob(block.redacted)}})
            else:
                text = {"text": block.text, "signature": block.signature}
                blocks.append({"reasoningContent": {"reasoningText": text}})
    for result in message.tool_results:
        content = [{"text": result.content}] if isinstance(result.content, str) else [{"json": result.content}]
        blocks.append({"toolResult": {"toolUseId": result.tool_use_id, "content": content, "status": result.status}})
    blocks.extend(converse_blocks(message, base64_bytes=base64_bytes))  # images and documents (issue 15)
    if message.text or not (blocks or message.tool_uses):
        blocks.append({"text": message.text})
    blocks.extend(
        {"toolUse": {"toolUseId": call.tool_use_id, "name": call.name, "input": call.input}}
        for call in message.tool_uses
    )
    return blocks


def _blob(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return data.encode()


def converse_tool_arguments(request: ModelRequest) -> dict[str, Any]:
    """The `converse_stream` keyword arguments tools and reasoning add (`toolConfig`,
    `additionalModelRequestFields`). Converse passes Anthropic's `thinking` through as a model-specific field."""
    arguments: dict[str, Any] = {}
    if request.tools:
        config: dict[str, Any] = {
            "tools": [
                {
                    "toolSpec": {"name": tool.name, "inputSchema": {"json": tool.input_schema}}
                    | ({"description": tool.description} if tool.description else {})
                }
                for tool in request.tools
            ]
        }
        choice = request.tool_choice
        if isinstance(choice, dict):
            config["toolChoice"] = {"tool": {"name": choice["name"]}}
        elif choice == "any":
            config["toolChoice"] = {"any": {}}
        else:
            config["toolChoice"] = {"auto": {}}
        arguments["toolConfig"] = config
    if request.reasoning_budget is not None:
        arguments["additionalModelRequestFields"] = {
            "thinking": {"type": "enabled", "budget_tokens": request.reasoning_budget}
        }
    return arguments


# -- OpenAI-compatible chat ----------------------------------------------------------------------------------


REASONING_EFFORT_STEPS = ((2048, "low"), (8192, "medium"))
"""Reasoning budgets up to these token counts ask for this `reasoning_effort`; larger ones ask for `high`."""


def reasoning_effort(budget: int) -> str:
    for limit, effort in REASONING_EFFORT_STEPS:
        if budget <= limit:
            return effort
    return "high"


def openai_messages(message: Message) -> list[dict[str, Any]]:
    """One relay message as chat messages: tool results are `tool` messages (before the user's text, if any);
    an assistant's calls ride on its message as `tool_calls` (OpenAI-compatible servers take no reasoning back)."""
    if message.role == "assistant":
        item: dict[str, Any] = {"role": "assistant", "content": message.text}
        if message.tool_uses:
            item["content"] = message.text or None
            item["tool_calls"] = [
                {
                    "id": call.tool_use_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.input, ensure_ascii=False)},
                }
                for call in message.tool_uses
            ]
        return [item]
    items: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": result.tool_use_id, "content": result.text} for result in message.tool_results
    ]
    if message.text or not items:
        items.append({"role": "user", "content": openai_content(message)})  # with any images (issue 15)
    return items


def openai_tool_fields(request: ModelRequest) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if request.tools:
        fields["tools"] = [
            {
                "type": "function",
                "function": {"name": tool.name, "parameters": tool.input_schema}
                | ({"description": tool.description} if tool.description else {}),
            }
            for tool in request.tools
        ]
        choice = request.tool_choice
        if isinstance(choice, dict):
            fields["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
        else:
            fields["tool_choice"] = "required" if choice == "any" else choice
    if request.reasoning_budget is not None:
        fields["reasoning_effort"] = reasoning_effort(request.reasoning_budget)
    return fields


# -- streamed tool input -------------------------------------------------------------------------------------


class ToolCalls:
    """Tool calls being streamed, keyed by the upstream's block index: id and name first, then input JSON in
    fragments cut anywhere (inside a string, an escape or a number), parsed only once the call is complete."""

    def __init__(self) -> None:
        self._open: dict[Any, tuple[str, str, list[str]]] = {}

    def start(self, key: Any, tool_use_id: str, name: str) -> None:
        self._open[key] = (tool_use_id, name, [])

    def add(self, key: Any, fragment: str, *, tool_use_id: str = "", name: str = "") -> None:
        """Append a fragment; a call never started (a fragment before its start) opens with what is known."""
        if key not in self._open:
            self.start(key, tool_use_id, name)
        self._open[key][2].append(fragment)

    def update(self, key: Any, *, tool_use_id: str = "", name: str = "") -> None:
        """Fill in an id or a name a later fragment carries (OpenAI sends them once, on the first)."""
        if key not in self._open:
            self.start(key, tool_use_id, name)
            return
        old_id, old_name, parts = self._open[key]
        self._open[key] = (old_id or tool_use_id, old_name or name, parts)

    def __contains__(self, key: Any) -> bool:
        return key in self._open

    def finish(self, key: Any) -> ToolUse | UpstreamError | None:
        """The complete call at `key` (None when no call is open there)."""
        opened = self._open.pop(key, None)
        if opened is None:
            return None
        tool_use_id, name, parts = opened
        return parse_tool_input(tool_use_id, name, "".join(parts))

    def finish_all(self) -> list[ToolUse | UpstreamError]:
        return [event for key in list(self._open) if (event := self.finish(key)) is not None]


def parse_tool_input(tool_use_id: str, name: str, text: str) -> ToolUse | UpstreamError:
    """A call whose input is a JSON object (empty input means `{}`), else the error that ends the answer."""
    if not text.strip():
        return ToolUse(tool_use_id, name, {})
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not name:
        return UpstreamError(
            ErrorKind.MODEL_ERROR, f"the model's input for tool {name!r} is not a JSON object", INVALID_TOOL_INPUT
        )
    return ToolUse(tool_use_id, name, value)
