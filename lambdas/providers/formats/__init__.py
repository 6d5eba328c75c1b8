"""One codec per Bedrock invoke family: the family's native request body and stream chunks → normalized events."""

from __future__ import annotations

from collections.abc import Callable

from lambdas import catalogue
from lambdas.providers.bedrock_invoke import InvokeCodec
from lambdas.providers.formats.anthropic_messages import AnthropicMessages
from lambdas.providers.formats.anthropic_text import AnthropicText
from lambdas.providers.formats.cohere_command_r import CohereCommandR
from lambdas.providers.formats.llama3 import Llama3
from lambdas.providers.formats.mistral import Mistral
from lambdas.providers.formats.nova import Nova
from lambdas.providers.formats.titan_text import TitanText

CODECS: dict[str, Callable[[], InvokeCodec]] = {
    catalogue.ANTHROPIC_MESSAGES: AnthropicMessages,
    catalogue.ANTHROPIC_TEXT: AnthropicText,
    catalogue.LLAMA3: Llama3,
    catalogue.MISTRAL: Mistral,
    catalogue.TITAN_TEXT: TitanText,
    catalogue.NOVA: Nova,
    catalogue.COHERE_COMMAND_R: CohereCommandR,
}
"""Codec factories by family name (`lambdas.catalogue.FAMILIES`)."""

__all__ = ["CODECS"]
