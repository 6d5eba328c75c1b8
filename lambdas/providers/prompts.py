"""Prompt templates for the models that take one prompt string instead of a list of messages.

Each renders the vendor's documented chat template exactly: the local simulator parses these strings back into
turns, and a model answers worse when its template is off by a newline.
"""

from __future__ import annotations

from collections.abc import Callable

from lambdas import catalogue
from lambdas.providers.base import ModelRequest

LLAMA3_BEGIN = "<|begin_of_text|>"
LLAMA3_EOT = "<|eot_id|>"


def _llama3_header(role: str) -> str:
    return f"<|start_header_id|>{role}<|end_header_id|>\n\n"


def llama3(request: ModelRequest) -> str:
    """Meta Llama 3 instruct: header-delimited turns, ending with an open assistant header."""
    parts = [LLAMA3_BEGIN]
    if request.system:
        parts.append(f"{_llama3_header('system')}{request.system}{LLAMA3_EOT}")
    for message in request.messages:
        parts.append(f"{_llama3_header(message.role)}{message.text}{LLAMA3_EOT}")
    parts.append(_llama3_header("assistant"))
    return "".join(parts)


def mistral(request: ModelRequest) -> str:
    """Mistral instruct: `<s>[INST] user [/INST] answer</s>[INST] user [/INST]`.

    Mistral's template has no system turn: the system text leads the first user turn, separated by a blank line.
    """
    parts = ["<s>"]
    first_user = True
    for message in request.messages:
        if message.role == "user":
            text = message.text
            if first_user and request.system:
                text = f"{request.system}\n\n{text}"
            first_user = False
            parts.append(f"[INST] {text} [/INST]")
        else:
            parts.append(f" {message.text}</s>")
    return "".join(parts)


def anthropic_text(request: ModelRequest) -> str:
    """Claude v2 text completions: `\\n\\nHuman: ...\\n\\nAssistant:`; a system prompt precedes the first turn."""
    parts = [request.system or ""]
    for message in request.messages:
        if message.role == "user":
            parts.append(f"\n\nHuman: {message.text}")
        else:
            parts.append(f"\n\nAssistant: {message.text}")
    parts.append("\n\nAssistant:")
    return "".join(parts)


def titan_text(request: ModelRequest) -> str:
    """Amazon Titan Text: `User: ...\\nBot: ...` lines ending with an open `Bot:`; a system prompt is a first line."""
    lines = [request.system] if request.system else []
    for message in request.messages:
        lines.append(f"{'User' if message.role == 'user' else 'Bot'}: {message.text}")
    lines.append("Bot:")
    return "\n".join(lines)


TEMPLATES: dict[str, Callable[[ModelRequest], str]] = {
    catalogue.LLAMA3: llama3,
    catalogue.MISTRAL: mistral,
    catalogue.ANTHROPIC_TEXT: anthropic_text,
    catalogue.TITAN_TEXT: titan_text,
}
"""Prompt templates by name (the SageMaker `template` option)."""
