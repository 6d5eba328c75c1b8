"""Tools and reasoning in requests to the simulator: offered tools, tool calls and results in the history, and the
checks the real services make on them (so a relay that replays history wrongly is refused as it would be on AWS).

Shapes read (content blocks of a message):
- Anthropic Messages: `{"type": "tool_use", "id", "name", "input"}`, `{"type": "tool_result", "tool_use_id",
  "content": str | [{"type": "text", "text"}], "is_error"?}`, `{"type": "thinking", "thinking", "signature"}`,
  `{"type": "redacted_thinking", "data"}`; request `tools[{name, description?, input_schema}]`, `thinking`.
- Converse: `{"toolUse": {"toolUseId", "name", "input"}}`, `{"toolResult": {"toolUseId", "content": [{"text"} |
  {"json"}], "status"?}}`, `{"reasoningContent": {"reasoningText": {"text", "signature"}} | {"redactedContent"}}`;
  request `toolConfig.tools[{toolSpec: {name, inputSchema: {json}}}]`, `additionalModelRequestFields.thinking`.
- OpenAI chat: assistant `tool_calls[{id, function: {name, arguments}}]`, `{"role": "tool", "tool_call_id",
  "content"}`; request `tools[{type: "function", function: {name, parameters}}]`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .script import SimMessage, SimTool, SimToolResult, signature_of


class ToolProblem(ValueError):
    """A request the real service would refuse for its tools or reasoning; the message says why."""


def compact(value: Any) -> str:
    """A JSON value as the text a model reads: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- offered tools --


def anthropic_tools(body: Mapping[str, Any]) -> tuple[SimTool, ...]:
    return tuple(
        SimTool(str(tool.get("name")), tool.get("input_schema") or {})
        for tool in body.get("tools") or ()
        if isinstance(tool, dict)
    )


def converse_tools(body: Mapping[str, Any]) -> tuple[SimTool, ...]:
    config = body.get("toolConfig") or {}
    tools = []
    for tool in config.get("tools") or ():
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict):
            tools.append(SimTool(str(spec.get("name")), (spec.get("inputSchema") or {}).get("json") or {}))
    return tuple(tools)


def openai_tools(body: Mapping[str, Any]) -> tuple[SimTool, ...]:
    tools = []
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict):
            tools.append(SimTool(str(function.get("name")), function.get("parameters") or {}))
    return tuple(tools)


# -- history: calls and results (Anthropic Messages and Converse content blocks) --


def _calls(content: Any) -> list[tuple[str, str]]:
    """(id, name) of the tool calls in an assistant message's blocks, in either shape."""
    calls = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_use":
            calls.append((str(block.get("id")), str(block.get("name"))))
        elif isinstance(block.get("toolUse"), dict):
            calls.append((str(block["toolUse"].get("toolUseId")), str(block["toolUse"].get("name"))))
    return calls


def _results(content: Any) -> list[tuple[str, str]]:
    """(toolUseId, content as text) of the tool results in a user message's blocks, in either shape."""
    results = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_result":
            inner = block.get("content")
            if isinstance(inner, list):
                inner = "".join(item.get("text", "") for item in inner if isinstance(item, dict))
            results.append((str(block.get("tool_use_id")), compact(inner if inner is not None else "")))
        elif isinstance(block.get("toolResult"), dict):
            result = block["toolResult"]
            parts = [
                item["text"] if "text" in item else compact(item.get("json"))
                for item in result.get("content") or ()
                if isinstance(item, dict)
            ]
            results.append((str(result.get("toolUseId")), "".join(parts)))
    return results


def with_tool_results(raw: Sequence[Any], messages: tuple[SimMessage, ...], has_tools: bool) -> tuple[SimMessage, ...]:
    """`messages` (read from `raw` one to one) with the tool results of their blocks, checked as the services do:
    tool blocks need tools defined, every call is answered in the next message, every result answers a call."""
    out = list(messages)
    pending: dict[str, str] = {}
    for index, item in enumerate(raw):
        content = item.get("content") if isinstance(item, dict) else None
        calls, results = _calls(content), _results(content)
        if (calls or results) and not has_tools:
            raise ToolProblem("Requests which include tool use or tool result blocks must define tools.")
        answered = {tool_use_id for tool_use_id, _ in results}
        if pending and answered != set(pending):
            missing = sorted(set(pending) - answered)
            raise ToolProblem(f"messages.{index}: tool use ids without a tool result right after them: {missing}")
        for tool_use_id, _ in results:
            if tool_use_id not in pending:
                raise ToolProblem(f"messages.{index}: unexpected tool result for tool use id {tool_use_id!r}")
        if results:
            sim_results = tuple(SimToolResult(pending[tool_use_id], text) for tool_use_id, text in results)
            out[index] = SimMessage(out[index].role, out[index].text, sim_results, out[index].attachments)
        pending = dict(calls)
    return tuple(out)


def check_thinking(raw: Sequence[Any], thinking: bool) -> None:
    """With thinking on, an assistant turn that called a tool must start with its reasoning, signed as the model
    signed it (Anthropic's rule for a tool loop; the signature here is the simulator's own)."""
    if not thinking:
        return
    for index, item in enumerate(raw):
        content = item.get("content") if isinstance(item, dict) else None
        if not isinstance(item, dict) or item.get("role") != "assistant" or not _calls(content):
            continue
        first = content[0] if isinstance(content, list) and content else {}
        text, signature = _reasoning_block(first)
        if text is None and not _redacted(first):
            raise ToolProblem(
                f"messages.{index}.content.0: Expected `thinking` or `redacted_thinking`, but found a different "
                "block. When thinking is enabled, a final assistant message must start with a thinking block."
            )
        if text is not None and signature != signature_of(text):
            raise ToolProblem(f"messages.{index}.content.0: Invalid `signature` in `thinking` block")


def _reasoning_block(block: Any) -> tuple[str | None, str | None]:
    if not isinstance(block, dict):
        return None, None
    if block.get("type") == "thinking":
        return str(block.get("thinking", "")), block.get("signature")
    reasoning = (block.get("reasoningContent") or {}).get("reasoningText")
    if isinstance(reasoning, dict):
        return str(reasoning.get("text", "")), reasoning.get("signature")
    return None, None


def _redacted(block: Any) -> bool:
    return isinstance(block, dict) and (
        block.get("type") == "redacted_thinking" or "redactedContent" in (block.get("reasoningContent") or {})
    )


# -- OpenAI chat messages --


def openai_conversation(raw: Sequence[Any], messages: list[SimMessage]) -> tuple[SimMessage, ...]:
    """`messages` (user/assistant, already read) regrouped with the `tool` messages of `raw`: a run of tool results
    (and the user text right after it, if any) is one user turn, as in the other formats."""
    names: dict[str, str] = {}
    out: list[SimMessage] = []
    texts = iter(messages)
    results: list[SimToolResult] = []
    for item in raw:
        role = item.get("role") if isinstance(item, dict) else None
        if role == "tool":
            tool_call_id = str(item.get("tool_call_id"))
            if tool_call_id not in names:
                raise ToolProblem(f"Invalid parameter: tool message for unknown tool_call_id {tool_call_id!r}.")
            results.append(SimToolResult(names[tool_call_id], compact(item.get("content") or "")))
            continue
        if role not in ("user", "assistant"):
            continue
        message = next(texts)
        if results:
            if role == "user":
                out.append(SimMessage("user", message.text, tuple(results), message.attachments))
                results = []
                continue
            out.append(SimMessage("user", "", tuple(results)))
            results = []
        if role == "assistant":
            for call in item.get("tool_calls") or ():
                if isinstance(call, dict):
                    names[str(call.get("id"))] = str((call.get("function") or {}).get("name"))
        out.append(message)
    if results:
        out.append(SimMessage("user", "", tuple(results)))
    return tuple(out)
