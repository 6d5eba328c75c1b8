"""One codec per Bedrock invoke family: the family's native request body and stream chunks → normalized events."""

from __future__ import annotations

from collections.abc import Callable

from lambdas import models
from lambdas.providers.bedrock_invoke import InvokeCodec
from lambdas.providers.formats.anthropic_messages import AnthropicMessages
from lambdas.providers.formats.anthropic_text import AnthropicText
from lambdas.providers.formats.cohere_command_r import CohereCommandR
from lambdas.providers.formats.llama3 import Llama3
from lambdas.providers.formats.mistral import Mistral
from lambdas.providers.formats.nova import Nova
from lambdas.providers.formats.titan_text import TitanText

CODECS: dict[str, Callable[[], InvokeCodec]] = {
    models.ANTHROPIC_MESSAGES: AnthropicMessages,
    models.ANTHROPIC_TEXT: AnthropicText,
    models.LLAMA3: Llama3,
    models.MISTRAL: Mistral,
    models.TITAN_TEXT: TitanText,
    models.NOVA: Nova,
    models.COHERE_COMMAND_R: CohereCommandR,
}
"""Codec factories by family name (`lambdas.models.FAMILIES`)."""

__all__ = ["CODECS"]
