"""Which provider answers a request: the catalogue entry a client's alias names (`lambdas.catalogue.resolve_spec`),
built into its Provider.

Building a provider is cheap (clients are cached in `lambdas.clients`), so one is built per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial

from lambdas import catalogue, clients
from lambdas.catalogue import ModelSpec, UnknownModelError, resolve_spec
from lambdas.providers import api_keys
from lambdas.providers.base import ModelRequest, Provider
from lambdas.providers.bedrock_converse import BedrockConverseProvider
from lambdas.providers.bedrock_invoke import BedrockInvokeProvider
from lambdas.providers.events import Event
from lambdas.providers.formats import CODECS
from lambdas.providers.openai_chat import OpenAIChatProvider
from lambdas.providers.sagemaker import SageMakerProvider


def resolve(alias: str | None) -> tuple[str, Provider]:
    """The (alias, provider) for a client's `model` (None = the default). Raises UnknownModelError, or
    CatalogueError when the configured catalogue is invalid."""
    spec = resolve_spec(alias)
    return spec.alias, provider_for(spec)


def provider_for(spec: ModelSpec) -> Provider:
    """The provider serving one catalogue entry."""
    provider = _build(spec)
    if spec.max_tokens_limit is not None:
        return MaxTokensCap(provider, spec.max_tokens_limit)
    return provider


def _build(spec: ModelSpec) -> Provider:
    if spec.provider == catalogue.BEDROCK:
        return BedrockInvokeProvider(clients.bedrock_runtime(), spec.model_id or "", CODECS[spec.family or ""])
    if spec.provider == catalogue.BEDROCK_CONVERSE:
        return BedrockConverseProvider(clients.bedrock_runtime(), spec.model_id or "")
    if spec.provider == catalogue.SAGEMAKER:
        return SageMakerProvider(
            clients.sagemaker_runtime(),
            spec.endpoint_name or "",
            spec.format or "",
            spec.template or catalogue.DEFAULT_SAGEMAKER_TEMPLATE,
        )
    if spec.provider == catalogue.OPENAI:
        # The key is read lazily, on the first answer: a failure to read it becomes that answer's error event.
        return OpenAIChatProvider(spec.base_url or "", spec.model or "", partial(api_keys.api_key, spec))
    raise ValueError(f"no provider of kind {spec.provider!r}")


class MaxTokensCap:
    """A provider whose model accepts fewer output tokens than the relay-wide limit (`maxTokensLimit`)."""

    def __init__(self, inner: Provider, limit: int) -> None:
        self._inner = inner
        self.limit = limit

    @property
    def kind(self) -> str:
        return self._inner.kind

    def stream(self, request: ModelRequest) -> Iterator[Event]:
        if request.max_tokens > self.limit:
            request = replace(request, max_tokens=self.limit)
        return self._inner.stream(request)


__all__ = ["MaxTokensCap", "UnknownModelError", "provider_for", "resolve"]
