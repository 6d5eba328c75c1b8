"""Read prompt-template formats (and message content blocks) back into (role, text) messages.

Text-completion APIs (Claude v2, Llama, Mistral, Titan, SageMaker TGI/LMI `inputs`) receive one rendered prompt
string; the simulator needs the conversation inside it to count turns and find the last user text. Each parser
follows the vendor's documented template and tolerates whitespace around texts; the final empty assistant slot
(the place the model is asked to write) is not a message.
"""

from __future__ import annotations

import re
from typing import Any, Final

from .script import SimMessage

Parsed = tuple[str | None, tuple[SimMessage, ...]]
"""(system prompt or None, messages)."""


class PromptError(ValueError):
    """A prompt that does not follow the template its model requires."""


def block_text(content: Any) -> str:
    """Text of a message's content: a string, or the `text` of its blocks (images, tool blocks carry none)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            block["text"] for block in content if isinstance(block, dict) and isinstance(block.get("text"), str)
        )
    return ""


def _conversation(system: str | None, turns: list[tuple[str, str]]) -> Parsed:
    # The trailing empty assistant turn is the generation slot, not something anyone said.
    if turns and turns[-1][0] == "assistant" and not turns[-1][1].strip():
        turns = turns[:-1]
    messages = tuple(SimMessage(role, text.strip()) for role, text in turns)
    return (system.strip() or None) if system else None, messages


# Claude v2 / Instant text completions: "\n\nHuman: ...\n\nAssistant: ...\n\nHuman: ...\n\nAssistant:"
_CLAUDE_TURN: Final = re.compile(r"\n\n(Human|Assistant):")
_CLAUDE_ROLES: Final = {"Human": "user", "Assistant": "assistant"}


def parse_claude_text(prompt: str) -> Parsed:
    parts = _CLAUDE_TURN.split(prompt)
    roles = parts[1::2]
    if "Human" not in roles:
        raise PromptError('prompt must start with "\\n\\nHuman:" turn after an optional system prompt')
    if roles[-1] != "Assistant":
        raise PromptError('prompt must end with "\\n\\nAssistant:" turn')
    turns = [(_CLAUDE_ROLES[role], text) for role, text in zip(roles, parts[2::2], strict=True)]
    return _conversation(parts[0], turns)


# Llama 3: <|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{text}<|eot_id|>...
_LLAMA3_HEADER: Final = re.compile(r"<\|start_header_id\|>\s*(\w+)\s*<\|end_header_id\|>")
_LLAMA3_END: Final = re.compile(r"<\|eot_id\|>|<\|eom_id\|>|<\|end_of_text\|>")


def parse_llama3(prompt: str) -> Parsed:
    parts = _LLAMA3_HEADER.split(prompt)
    system: str | None = None
    turns: list[tuple[str, str]] = []
    for role, body in zip(parts[1::2], parts[2::2], strict=True):
        text = _LLAMA3_END.split(body, maxsplit=1)[0]
        if role == "system":
            system = text
        elif role in ("user", "assistant"):
            turns.append((role, text))
        # ipython/tool turns carry tool output, not conversation text.
    return _conversation(system, turns)


# Llama 2 and Mistral: <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{text} [/INST] {answer}</s><s>[INST] {text} [/INST]
_INST: Final = re.compile(r"\[INST\](.*?)\[/INST\]", re.DOTALL)
_LLAMA2_SYSTEM: Final = re.compile(r"<<SYS>>(.*?)<</SYS>>", re.DOTALL)
_SEQUENCE_TOKENS: Final = re.compile(r"<s>|</s>|<\|begin_of_text\|>")


def parse_inst(prompt: str) -> Parsed:
    cleaned = _SEQUENCE_TOKENS.sub("", prompt)
    matches = list(_INST.finditer(cleaned))
    if not matches:
        raise PromptError("prompt has no [INST] ... [/INST] turn")
    system: str | None = None
    turns: list[tuple[str, str]] = []
    for position, match in enumerate(matches):
        user = match.group(1)
        if position == 0 and (found := _LLAMA2_SYSTEM.search(user)):
            system = found.group(1)
            user = user[: found.start()] + user[found.end() :]
        turns.append(("user", user))
        answer_end = matches[position + 1].start() if position + 1 < len(matches) else len(cleaned)
        answer = cleaned[match.end() : answer_end]
        if answer.strip():
            turns.append(("assistant", answer))
    return _conversation(system, turns)


# Amazon Titan Text: "User: {text}\nBot: {answer}\nUser: {text}\nBot:"
_TITAN_TURN: Final = re.compile(r"^[ \t]*(User|Bot):", re.MULTILINE)
_TITAN_ROLES: Final = {"User": "user", "Bot": "assistant"}


def parse_titan(prompt: str) -> Parsed:
    parts = _TITAN_TURN.split(prompt)
    if len(parts) == 1:
        return None, (SimMessage("user", prompt.strip()),)
    turns = [(_TITAN_ROLES[role], text) for role, text in zip(parts[1::2], parts[2::2], strict=True)]
    # Titan has no system role; text before the first turn is an instruction, kept apart like a system prompt.
    return _conversation(parts[0], turns)


def parse_chat_prompt(prompt: str) -> Parsed:
    """A prompt for a Llama/Mistral-style model: Llama 3 headers, [INST] turns, or plain text (one user turn)."""
    if _LLAMA3_HEADER.search(prompt):
        return parse_llama3(prompt)
    if "[INST]" in prompt:
        return parse_inst(prompt)
    return None, (SimMessage("user", prompt.strip()),)


_TITAN_OPEN_SLOT: Final = re.compile(r"^[ \t]*Bot:[ \t]*\Z", re.MULTILINE)


def parse_any_prompt(prompt: str) -> Parsed:
    """A prompt in whichever template it was rendered with (a SageMaker container can host any model):
    Llama 3, [INST], Claude text (ends with an open `\n\nAssistant:` turn), Titan (ends with an open `Bot:`),
    else plain text."""
    if _LLAMA3_HEADER.search(prompt) or "[INST]" in prompt:
        return parse_chat_prompt(prompt)
    if "\n\nHuman:" in prompt and prompt.rstrip().endswith("\n\nAssistant:"):
        return parse_claude_text(prompt.rstrip())
    if _TITAN_OPEN_SLOT.search(prompt.rstrip()):
        return parse_titan(prompt)
    return None, (SimMessage("user", prompt.strip()),)
