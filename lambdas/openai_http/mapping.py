"""A validated chat completions request → the relay's `ModelRequest`, the one every provider renders: the same
request the WebSocket channel builds from `sendtext` and the stored conversation, under the same limits.

- `system` and `developer` messages become the system prompt (joined in order).
- `user` / `assistant` messages become the turns; consecutive messages of one role are joined (providers such as
  Bedrock want the roles to alternate), text content parts are joined, and the history before the last user
  message is cut to `historyMaxChars` by dropping the oldest whole turns, as for a stored conversation.
- `max_completion_tokens` (or the older `max_tokens`), `temperature` and `stop` map one to one.

Tools (`tools`, `tool_choice`, `tool` messages, assistant `tool_calls`) and `reasoning_effort` need provider support
that `ModelRequest` does not carry yet: each is refused here with a 400 naming it (`_refuse_until_supported`), the one
place to map them once the providers take them.
"""

from __future__ import annotations

from dataclasses import dataclass

from lambdas.config import Settings
from lambdas.openai_http.errors import bad_request
from lambdas.openai_http.schema import ChatMessage, ChatRequest
from lambdas.providers.base import Message, ModelRequest, Role
from lambdas.requests import MAX_SYSTEM_CHARS
from lambdas.store.conversations import newest_pairs

SYSTEM_ROLES = frozenset({"system", "developer"})
UNSUPPORTED = "unsupported_parameter"


@dataclass(frozen=True, slots=True)
class Mapped:
    """What one HTTP request asks of the relay."""

    model: str
    """The model alias the client named (resolved against the catalogue by the caller)."""
    request: ModelRequest
    stream: bool
    include_usage: bool


def map_request(chat: ChatRequest, config: Settings) -> Mapped:
    """The relay's request for `chat`, or ApiError 400 naming the `param` that cannot be served."""
    _refuse_until_supported(chat)
    system: list[str] = []
    turns: list[tuple[Role, str, int]] = []  # role, text, index of the last message joined into it
    for index, message in enumerate(chat.messages):
        text = _text(message, index)
        if message.role in SYSTEM_ROLES:
            system.append(text)
            continue
        role: Role = "user" if message.role == "user" else "assistant"
        if turns and turns[-1][0] == role:
            turns[-1] = (role, f"{turns[-1][1]}\n\n{text}", index)
        else:
            turns.append((role, text, index))
    if not turns or turns[-1][0] != "user":
        raise bad_request("messages: the last message (other than system ones) must be the user's", "messages")
    if turns[0][0] != "user":
        raise bad_request("messages: the conversation must start with a user message", "messages")
    system_prompt = "\n\n".join(system) or None
    if system_prompt is not None and len(system_prompt) > MAX_SYSTEM_CHARS:
        raise bad_request(f"messages: system messages hold at most {MAX_SYSTEM_CHARS} characters in all", "messages")
    _, last_text, last_index = turns[-1]
    if len(last_text) > config.max_text_chars:
        raise bad_request(
            f"messages[{last_index}].content: at most {config.max_text_chars} characters (got {len(last_text)})",
            f"messages[{last_index}].content",
        )
    if not last_text.strip():
        raise bad_request(f"messages[{last_index}].content: must not be empty", f"messages[{last_index}].content")
    pairs = [(Message("user", turns[i][1]), Message("assistant", turns[i + 1][1])) for i in range(0, len(turns) - 1, 2)]
    history = newest_pairs(pairs, config.history_max_chars)
    return Mapped(
        model=chat.model,
        request=ModelRequest(
            messages=(*history, Message("user", last_text)),
            max_tokens=_max_tokens(chat, config),
            system=system_prompt,
            temperature=chat.temperature,
            stop_sequences=_stop(chat),
        ),
        stream=bool(chat.stream),
        include_usage=bool(chat.stream and chat.stream_options and chat.stream_options.include_usage),
    )


def _refuse_until_supported(chat: ChatRequest) -> None:
    """Refuse what the providers cannot carry yet, naming it: silently dropping a tool would answer a different
    question than the one asked."""
    if chat.tools:
        raise bad_request("tools: tool calling is not served by this relay yet", "tools", UNSUPPORTED)
    if chat.tool_choice not in (None, "none"):
        raise bad_request("tool_choice: tool calling is not served by this relay yet", "tool_choice", UNSUPPORTED)
    if chat.reasoning_effort not in (None, "none"):
        raise bad_request(
            "reasoning_effort: reasoning is not served over HTTP by this relay yet", "reasoning_effort", UNSUPPORTED
        )
    for index, message in enumerate(chat.messages):
        if message.role == "tool":
            raise bad_request(
                f"messages[{index}].role: tool messages are not served by this relay yet",
                f"messages[{index}].role",
                UNSUPPORTED,
            )
        if message.tool_calls:
            raise bad_request(
                f"messages[{index}].tool_calls: tool calling is not served by this relay yet",
                f"messages[{index}].tool_calls",
                UNSUPPORTED,
            )


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
    text = "".join(parts)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        problem = "not valid Unicode (a lone UTF-16 surrogate such as \\ud800 has no character)"
        raise bad_request(f"messages[{index}].content: {problem}", f"messages[{index}].content") from None
    return text


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
