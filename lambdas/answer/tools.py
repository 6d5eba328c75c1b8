"""Admission of protocol v2's `sendtext` fields: `tools`, `toolChoice`, `toolResults`, `reasoning`.

Three checks, each a clear `bad_request` naming its field before any model is called: the fields' own shape
(`parse_tool_fields`, pure), what the chosen model can do (`check_capabilities`), and whether the results answer the
conversation's last answer (`check_tool_results`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lambdas.catalogue import OPENAI, ModelSpec
from lambdas.protocol import StopReason
from lambdas.providers.content import (
    DEFAULT_REASONING_BUDGET,
    MAX_REASONING_BUDGET,
    MAX_TOOL_JSON_BYTES,
    MIN_REASONING_BUDGET,
    ToolResult,
    ToolSpec,
    json_size,
)
from lambdas.requests import BadRequestError, SendText, clip, echo
from lambdas.store.conversations import Conversation

MAX_TOOLS = 64
TOOL_NAME = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
TOOL_USE_ID = re.compile(r"\A[A-Za-z0-9_.:-]{1,128}\Z")
MAX_DESCRIPTION_CHARS = 10_000
MAX_TOOL_RESULT_BYTES = MAX_TOOL_JSON_BYTES
"""A result's content (as JSON) must fit one `history` frame with its turn's other fields."""
TOOL_CHOICES = ("auto", "any", "none")
RESULT_STATUSES = ("success", "error")


@dataclass(frozen=True, slots=True)
class ToolFields:
    """A request's v2 fields, validated."""

    tools: tuple[ToolSpec, ...] = ()
    tool_choice: str | dict[str, str] = "auto"
    tool_results: tuple[ToolResult, ...] = ()
    reasoning_budget: int | None = None

    @property
    def asked(self) -> bool:
        """Whether the request used any v2 field: its `done` frame then always lists the cache usage."""
        return bool(self.tools or self.tool_results) or self.reasoning_budget is not None


NO_TOOL_FIELDS = ToolFields()


def parse_tool_fields(request: SendText) -> ToolFields:
    """The v2 fields of a sendtext, or BadRequestError naming the field."""
    request_id = request.requestId
    tools = _tools(request.tools, request_id)
    choice = _tool_choice(request.toolChoice, tools, request_id)
    results = _tool_results(request.toolResults, request_id)
    if results and not request.conversationId:
        problem = "answer the tool calls of a conversation: conversationId is required"
        raise _bad("toolResults", problem, request_id)
    if results and not tools:
        raise BadRequestError("tools: required with toolResults (the model needs them again)", "tools", request_id)
    return ToolFields(tools, choice, results, _reasoning(request.reasoning, request_id))


def check_capabilities(fields: ToolFields, spec: ModelSpec, request_id: str | None) -> None:
    """Refuse what the chosen model cannot do, naming the field."""
    if (fields.tools or fields.tool_results) and not spec.supports_tools:
        field = "tools" if fields.tools else "toolResults"
        raise BadRequestError(f"{field}: model {spec.alias!r} does not support tools", field, request_id)
    if fields.reasoning_budget is not None and not spec.supports_reasoning:
        raise BadRequestError(f"reasoning: model {spec.alias!r} does not support reasoning", "reasoning", request_id)
    if fields.reasoning_budget is not None and fields.tool_choice not in ("auto", "none") and spec.provider != OPENAI:
        # Bedrock models reason with Anthropic's `thinking`, which takes tool_choice auto or none only: a forced
        # call would fail at the model, after `start`.
        message = f'toolChoice: model {spec.alias!r} cannot be forced to call a tool while it reasons (use "auto")'
        raise BadRequestError(message, "toolChoice", request_id)


def check_tool_results(fields: ToolFields, conversation: Conversation, request_id: str | None) -> None:
    """Results must answer every call of the conversation's last answer, which must have stopped for tool_use."""
    if not fields.tool_results:
        return
    answers = [index for index, turn in enumerate(conversation.turns) if turn.role == "assistant"]
    last = conversation.turns[answers[-1]] if answers else None
    if last is None or last.stop != StopReason.TOOL_USE or not last.tool_uses:
        raise BadRequestError(
            "toolResults: the conversation's last answer did not stop for tool_use", "toolResults", request_id
        )
    # The user turn of an answer still streaming is stored before its answer is: results sent twice (a client's
    # retry, a double click) would otherwise both pass and the model answer the same results twice.
    if any(turn.tool_results for turn in conversation.turns[answers[-1] + 1 :]):
        raise BadRequestError(
            "toolResults: the last answer's tool calls were already answered", "toolResults", request_id
        )
    calls = {call.tool_use_id: call for call in last.tool_uses}
    answered = {result.tool_use_id for result in fields.tool_results}
    for tool_use_id, call in calls.items():
        if tool_use_id not in answered:
            raise BadRequestError(
                f"toolResults: no result for toolUseId {tool_use_id!r} (tool {call.name!r}): every call needs one",
                "toolResults",
                request_id,
            )
    for result in fields.tool_results:
        if result.tool_use_id not in calls:
            raise BadRequestError(
                f"toolResults: unknown toolUseId {echo(result.tool_use_id)}: the last answer's calls are "
                f"{', '.join(map(repr, calls))}",
                "toolResults",
                request_id,
            )


# -- the fields' own shape -----------------------------------------------------------------------------------


def _bad(field: str, problem: str, request_id: str | None) -> BadRequestError:
    return BadRequestError(f"{field}: {problem}", field, request_id)


def _tools(raw: list[Any] | None, request_id: str | None) -> tuple[ToolSpec, ...]:
    if raw is None:
        return ()
    if len(raw) > MAX_TOOLS:
        raise _bad("tools", f"at most {MAX_TOOLS} tools (got {len(raw)})", request_id)
    specs: list[ToolSpec] = []
    seen: set[str] = set()
    for index, tool in enumerate(raw):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _bad("tools", f'{where}: expected an object {{"name", "description", "inputSchema"}}', request_id)
        unknown = set(tool) - {"name", "description", "inputSchema"}
        if unknown:
            raise _bad("tools", f"{where}: unknown field {echo(sorted(unknown)[0])}", request_id)
        name = tool.get("name")
        if not isinstance(name, str) or not TOOL_NAME.match(name):
            raise _bad("tools", f"{where}.name: {echo(name)} is not 1-64 of letters, digits, '_' and '-'", request_id)
        if name in seen:
            raise _bad("tools", f"{where}.name: duplicate tool name {name!r}", request_id)
        seen.add(name)
        description = tool.get("description", "")
        if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_CHARS:
            problem = f"{where}.description: a string of at most {MAX_DESCRIPTION_CHARS} characters"
            raise _bad("tools", problem, request_id)
        schema = tool.get("inputSchema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise _bad("tools", f'{where}.inputSchema: a JSON Schema object with "type": "object"', request_id)
        specs.append(ToolSpec(name, description, schema))
    return tuple(specs)


def _tool_choice(raw: Any, tools: tuple[ToolSpec, ...], request_id: str | None) -> str | dict[str, str]:
    if raw is None:
        return "auto"
    if isinstance(raw, dict):
        name = raw.get("name")
        if set(raw) != {"name"} or not isinstance(name, str):
            raise _bad("toolChoice", '"auto", "any", "none", or {"name": TOOL}', request_id)
        if name not in {tool.name for tool in tools}:
            raise _bad("toolChoice", f"names no tool of this request: {echo(name)}", request_id)
        return {"name": name}
    if raw not in TOOL_CHOICES:
        raise _bad("toolChoice", f'{echo(raw)} is not "auto", "any", "none", or {{"name": TOOL}}', request_id)
    if raw == "any" and not tools:
        raise _bad("toolChoice", '"any" needs tools', request_id)
    return str(raw)


def _tool_results(raw: list[Any] | None, request_id: str | None) -> tuple[ToolResult, ...]:
    if raw is None:
        return ()
    if not raw:
        raise _bad("toolResults", "at least one result", request_id)
    results: list[ToolResult] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"toolResults[{index}]"
        if not isinstance(item, dict):
            raise _bad("toolResults", f'{where}: expected an object {{"toolUseId", "content", "status"}}', request_id)
        unknown = set(item) - {"toolUseId", "content", "status"}
        if unknown:
            raise _bad("toolResults", f"{where}: unknown field {echo(sorted(unknown)[0])}", request_id)
        tool_use_id = item.get("toolUseId")
        if not isinstance(tool_use_id, str) or not TOOL_USE_ID.match(tool_use_id):
            raise _bad("toolResults", f"{where}.toolUseId: {echo(tool_use_id)} is not a toolUseId", request_id)
        if tool_use_id in seen:
            raise _bad("toolResults", f"{where}: a second result for toolUseId {tool_use_id!r}", request_id)
        seen.add(tool_use_id)
        if "content" not in item:
            raise _bad("toolResults", f"{where}.content: required (a string or any JSON value)", request_id)
        status = item.get("status", "success")
        if status not in RESULT_STATUSES:
            raise _bad("toolResults", f'{where}.status: "success" or "error", not {echo(status)}', request_id)
        content = item["content"]
        size = json_size(content)
        if size > MAX_TOOL_RESULT_BYTES:
            problem = f"{where}.content: at most {MAX_TOOL_RESULT_BYTES} bytes (got {size})"
            raise _bad("toolResults", problem, request_id)
        results.append(ToolResult(tool_use_id, content, status))
    return tuple(results)


def _reasoning(raw: Any, request_id: str | None) -> int | None:
    if raw is None or raw is False:
        return None
    if raw is True:
        return DEFAULT_REASONING_BUDGET
    budget = raw.get("budgetTokens") if isinstance(raw, dict) else None
    if not isinstance(raw, dict) or set(raw) - {"budgetTokens"}:
        raise _bad("reasoning", 'true, or {"budgetTokens": N}', request_id)
    if budget is None:
        return DEFAULT_REASONING_BUDGET
    if isinstance(budget, bool) or not isinstance(budget, int):
        raise _bad("reasoning", f"budgetTokens: a whole number, not {clip(repr(budget))}", request_id)
    if not MIN_REASONING_BUDGET <= budget <= MAX_REASONING_BUDGET:
        raise _bad(
            "reasoning", f"budgetTokens: {MIN_REASONING_BUDGET} to {MAX_REASONING_BUDGET} (got {budget})", request_id
        )
    return budget
