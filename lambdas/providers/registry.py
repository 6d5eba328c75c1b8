"""Which provider answers a request: the one place that maps a configured model to its provider."""

from __future__ import annotations

from lambdas import clients
from lambdas.config import settings
from lambdas.providers.base import Provider
from lambdas.providers.bedrock_invoke import BedrockInvokeProvider
from lambdas.providers.formats.anthropic_messages import AnthropicMessages


class UnknownModelError(LookupError):
    """The client named a model alias that is not in the configured allow-list."""

    def __init__(self, alias: str, known: list[str]) -> None:
        super().__init__(f"unknown model {alias!r}; available: {', '.join(known)}")
        self.alias = alias
        self.known = known


def resolve(alias: str | None) -> tuple[str, Provider]:
    """The (alias, provider) for a client's `model` (None = the default). Raises UnknownModelError."""
    model_id = settings().model_id
    if alias not in (None, model_id):
        raise UnknownModelError(alias or "", [model_id])
    return model_id, BedrockInvokeProvider(clients.bedrock_runtime(), model_id, AnthropicMessages)
