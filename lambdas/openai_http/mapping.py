"""A validated chat completions request → the relay's `ModelRequest`, the one every provider renders: the same
request the WebSocket channel builds from `sendtext` and the stored conversation, under the same limits.

- `system` and `developer` messages become the system prompt (joined in order).
- `user` / `assistant` messages become the turns; consecutive messages of one role are joined (providers such as
  Bedrock want the roles to alternate), text content parts are joined, and the history before the last user turn is
  cut to `historyMaxChars` by dropping the oldest whole turns, as for a stored conversation.
- Tools: `tools` → the relay's `ToolSpec`s, `tool_choice` (`auto`, `none`, `required` → `any`, or one function),
  an assistant's `tool_calls` → its turn's tool calls, `tool` messages → the results on the user turn after it
  (protocol v2's `toolResults`), paired as the providers need (`lambdas.providers.tools.paired`).
- `reasoning_effort` → a reasoning budget (`minimal` the least the providers take, `low`/`medium` the budgets the
  OpenAI-compatible provider sends back as the same effort, `high` more) — except on a turn that answers tool calls:
  the signed reasoning an upstream wants back with them never reaches an OpenAI client.
- `max_completion_tokens` (or the older `max_tokens`), `temperature` and `stop` map one to one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambdas.answer.tools import MAX_DESCRIPTION_CHARS, MAX_TOOL_RESULT_BYTES, MAX_TOOLS, TOOL_USE_ID, ToolFields
from lambdas.config import Settings
from lambdas.openai_http.errors import ApiError, bad_request
from lambdas.openai_http.schema import ChatMessage, ChatRequest
from lambdas.providers.base import Message, ModelRequest, Role
from lambdas.providers.content import MIN_REASONING_BUDGET, ToolCall, ToolResult, ToolSpec, json_size
from lambdas.providers.tools import REASONING_EFFORT_STEPS, paired
from lambdas.requests import MAX_SYSTEM_CHARS, NOT_UNICODE, invalid_unicode_at, loads_json
from lambdas.store.conversations import newest_pairs

SYSTEM_ROLES = frozenset({"system", "developer"})
UNSUPPORTED = "unsupported_parameter"
REASONING_BUDGETS: dict[str, int] = {
    "minimal": MIN_REASONING_BUDGET,
    **{effort: budget for budget, effort in REASONING_EFFORT_STEPS},
    "high": 4 * REASONING_EFFORT_STEPS[-1][0],
}
"""`reasoning_effort` → reasoning tokens; an OpenAI-compatible upstream is asked for the same effort back."""
TOOL_CHOICES = {"auto": "auto", "none": "none", "required": "any"}
FIELD_PARAMS = {
    "tools": "tools",
    "toolResults": "messages",
    "reasoning": "reasoning_effort",
    "toolChoice": "tool_choice",
}
"""`lambdas.answer.tools`' field names → this API's."""


@dataclass(frozen=True, slots=True)
class Mapped:
    """What one HTTP request asks of the relay."""

    model: str
    """The model alias the client named (resolved against the catalogue by the caller)."""
    request: ModelRequest
    stream: bool
    include_usage: bool
    tool_fields: ToolFields
    """What the model must be able to do (`lambdas.answer.tools.check_capabilities`)."""


@dataclass(slots=True)
class _Turn:
    role: Role
    texts: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    last_index: int = 0

    def message(self) -> Message:
        text = "\n\n".join(text for text in self.texts if text)
        return Message(self.role, text, tool_uses=tuple(self.calls), tool_results=tuple(self.results))

    @property
    def size(self) -> int:
        """Characters against the history budget: text, tool calls and results."""
        calls = sum(len(call.name) + json_size(call.input) for call in self.calls)
        return sum(map(len, self.texts)) + calls + sum(len(result.text) for result in self.results)


def map_request(chat: ChatRequest, config: Settings) -> Mapped:
    """The relay's request for `chat`, or ApiError 400 naming the `param` that cannot be served."""
    tools = _tools(chat)
    system, turns = _turns(chat)
    if not turns or turns[-1].role != "user":
        raise bad_request(
            "messages: the last message (other than system ones) must be the user's or a tool's", "messages"
        )
    if turns[0].role != "user":
        raise bad_request("messages: the conversation must start with a user message", "messages")
    uses_tools = any(turn.calls or turn.results for turn in turns)
    if uses_tools and not tools:
        raise bad_request("tools: required when the messages hold tool calls or tool results", "tools")
    system_prompt = "\n\n".join(system) or None
    if system_prompt is not None and len(system_prompt) > MAX_SYSTEM_CHARS:
        raise bad_request(f"messages: system messages hold at most {MAX_SYSTEM_CHARS} characters in all", "messages")
    last = turns[-1].message()
    param = f"messages[{turns[-1].last_index}].content"
    if len(last.text) > config.max_text_chars:
        raise bad_request(f"{param}: at most {config.max_text_chars} characters (got {len(last.text)})", param)
    if not last.text.strip() and not last.tool_results:
        raise bad_request(f"{param}: must not be empty", param)
    earlier = turns[:-1]
    pairs = [(earlier[i].message(), earlier[i + 1].message()) for i in range(0, len(earlier), 2)]
    sizes = [earlier[i].size + earlier[i + 1].size for i in range(0, len(earlier), 2)]
    history = newest_pairs(pairs, sizes, config.history_max_chars)
    budget = _reasoning_budget(chat)
    if last.tool_results and budget is not None:
        # The model's calls are being answered: upstreams that reason (Anthropic's) want the reasoning that led to
        # the calls back, signed, which an OpenAI client never has. The answer to the results goes on without it.
        budget = None
    fields = ToolFields(tools, _tool_choice(chat, tools), last.tool_results, budget)
    return Mapped(
        model=chat.model,
        request=ModelRequest(
            messages=paired((*history, last)),
            max_tokens=_max_tokens(chat, config),
            system=system_prompt,
            temperature=chat.temperature,
            stop_sequences=_stop(chat),
            tools=fields.tools,
            tool_choice=fields.tool_choice,
            reasoning_budget=fields.reasoning_budget,
        ),
        stream=bool(chat.stream),
        include_usage=bool(chat.stream and chat.stream_options and chat.stream_options.include_usage),
        tool_fields=fields,
    )


def capability_error(field_name: str | None, message: str) -> ApiError:
    """A `lambdas.answer.tools.check_capabilities` refusal, naming this API's field."""
    param = FIELD_PARAMS.get(field_name or "", field_name)
    if field_name and param != field_name:
        message = message.replace(field_name, param, 1)
    return bad_request(message, param, UNSUPPORTED)


def _turns(chat: ChatRequest) -> tuple[list[str], list[_Turn]]:
    """The system texts, and the user/assistant turns with consecutive messages of one role joined (tool results
    ride on the user turn after the assistant's calls)."""
    system: list[str] = []
    turns: list[_Turn] = []
    for index, message in enumerate(chat.messages):
        if message.role in SYSTEM_ROLES:
            system.append(_text(message, index))
            continue
        role: Role = "assistant" if message.role == "assistant" else "user"
        if not turns or turns[-1].role != role:
            turns.append(_Turn(role))
        turn = turns[-1]
        turn.last_index = index
        if message.role == "tool":
            turn.results.append(_result(message, index, turns))
        else:
            turn.texts.append(_text(message, index))
        for number in range(len(message.tool_calls or ())):
            call = _call(message, index, number)
            if any(other.tool_use_id == call.tool_use_id for other in turn.calls):
                # One tool message would answer both, and Anthropic refuses tool_use ids that repeat.
                param = f"messages[{index}].tool_calls[{number}].id"
                raise bad_request(f"{param}: another call of this turn has this id", param)
            turn.calls.append(call)
    return system, turns


def _result(message: ChatMessage, index: int, turns: list[_Turn]) -> ToolResult:
    param = f"messages[{index}]"
    if not message.tool_call_id:
        raise bad_request(f"{param}.tool_call_id: required in a tool message", f"{param}.tool_call_id")
    before = turns[-2] if len(turns) > 1 else None
    calls = {call.tool_use_id for call in before.calls} if before is not None else set()
    if message.tool_call_id not in calls:
        problem = "names no tool call of the assistant message before it"
        raise bad_request(f"{param}.tool_call_id: {problem}", f"{param}.tool_call_id")
    if any(result.tool_use_id == message.tool_call_id for result in turns[-1].results):
        raise bad_request(f"{param}.tool_call_id: a second result for this call", f"{param}.tool_call_id")
    content = _text(message, index)
    if json_size(content) > MAX_TOOL_RESULT_BYTES:
        raise bad_request(f"{param}.content: at most {MAX_TOOL_RESULT_BYTES} bytes", f"{param}.content")
    return ToolResult(message.tool_call_id, content)


def _call(message: ChatMessage, index: int, number: int) -> ToolCall:
    assert message.tool_calls is not None
    call = message.tool_calls[number]
    param = f"messages[{index}].tool_calls[{number}]"
    if not TOOL_USE_ID.match(call.id):
        raise bad_request(f"{param}.id: 1-128 of letters, digits, '_', '.', ':' and '-'", f"{param}.id")
    try:
        arguments = loads_json(call.function.arguments or "{}")
    except (ValueError, RecursionError):  # RecursionError: arguments nesting ~1,000 levels deep (was a 500)
        arguments = None
    if not isinstance(arguments, dict):
        raise bad_request(f"{param}.function.arguments: a JSON object, as text", f"{param}.function.arguments")
    if invalid_unicode_at(arguments) is not None:  # an escaped "\\ud800" inside the text
        raise bad_request(f"{param}.function.arguments: {NOT_UNICODE}", f"{param}.function.arguments")
    return ToolCall(call.id, call.function.name, arguments)


def _tools(chat: ChatRequest) -> tuple[ToolSpec, ...]:
    if not chat.tools:
        return ()
    if len(chat.tools) > MAX_TOOLS:
        raise bad_request(f"tools: at most {MAX_TOOLS} tools (got {len(chat.tools)})", "tools")
    specs: list[ToolSpec] = []
    for index, tool in enumerate(chat.tools):
        function, param = tool.function, f"tools[{index}].function"
        if any(spec.name == function.name for spec in specs):
            raise bad_request(f"{param}.name: duplicate tool name {function.name!r}", f"{param}.name")
        if function.description is not None and len(function.description) > MAX_DESCRIPTION_CHARS:
            limit = f"at most {MAX_DESCRIPTION_CHARS} characters"
            raise bad_request(f"{param}.description: {limit}", f"{param}.description")
        schema = function.parameters if function.parameters is not None else {"type": "object", "properties": {}}
        if schema.get("type") != "object":
            raise bad_request(f'{param}.parameters: a JSON Schema with "type": "object"', f"{param}.parameters")
        specs.append(ToolSpec(function.name, function.description or "", schema))
    return tuple(specs)


def _tool_choice(chat: ChatRequest, tools: tuple[ToolSpec, ...]) -> str | dict[str, str]:
    choice = chat.tool_choice
    if choice is None:
        return "auto"
    if isinstance(choice, str):
        if choice == "required" and not tools:
            raise bad_request('tool_choice: "required" needs tools', "tool_choice")
        return TOOL_CHOICES[choice]
    function = choice.get("function") if choice.get("type") == "function" else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str):
        raise bad_request(
            'tool_choice: "auto", "none", "required" or {"type": "function", "function": {"name"}}', "tool_choice"
        )
    if name not in {tool.name for tool in tools}:
        raise bad_request("tool_choice: names no tool of this request", "tool_choice")
    return {"name": name}


def _reasoning_budget(chat: ChatRequest) -> int | None:
    effort = chat.reasoning_effort
    return None if effort in (None, "none") else REASONING_BUDGETS[effort]


def _text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        if message.role == "assistant":
            return ""
        raise bad_request(f"messages[{index}].content: required", f"messages[{index}].content")
    if isinstance(content, str):
        parts = [content]
    else:
        parts = []
        for number, part in enumerate(content):
            param = f"messages[{index}].content[{number}]"
            if part.type != "text" or part.text is None:
                raise bad_request(f"{param}.type: only text content parts are served", f"{param}.type", UNSUPPORTED)
            parts.append(part.text)
    # No Unicode check here: parse_request refused a lone surrogate anywhere in the body.
    return "".join(parts)


def _max_tokens(chat: ChatRequest, config: Settings) -> int:
    # max_completion_tokens replaced max_tokens in OpenAI's API; a client sending both means the newer one.
    param, value = (
        ("max_completion_tokens", chat.max_completion_tokens)
        if chat.max_completion_tokens is not None
        else ("max_tokens", chat.max_tokens)
    )
    if value is None:
        return config.max_tokens_default
    if value > config.max_tokens_limit:
        raise bad_request(f"{param}: at most {config.max_tokens_limit}", param)
    return value


def _stop(chat: ChatRequest) -> tuple[str, ...]:
    if chat.stop is None:
        return ()
    return (chat.stop,) if isinstance(chat.stop, str) else tuple(chat.stop)
