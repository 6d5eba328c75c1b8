"""Which provider answers a request: the one place that maps a configured model to its provider.

The allow-list is the model catalogue (`lambdas.models`), parsed from the environment once.
Building a provider is cheap (clients are cached in `lambdas.clients`), so one is built per request.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache, partial

from lambdas import clients, models
from lambdas.config import settings
from lambdas.models import Catalogue, ModelSpec
from lambdas.providers import api_keys
from lambdas.providers.base import ModelRequest, Provider
from lambdas.providers.bedrock_converse import BedrockConverseProvider
from lambdas.providers.bedrock_invoke import BedrockInvokeProvider
from lambdas.providers.events import Event
from lambdas.providers.formats import CODECS
from lambdas.providers.openai_chat import OpenAIChatProvider
from lambdas.providers.sagemaker import SageMakerProvider


class UnknownModelError(LookupError):
    """The client named a model alias that is not in the configured allow-list."""

    def __init__(self, alias: str, known: list[str]) -> None:
        super().__init__(f"unknown model {alias!r}; available: {', '.join(known)}")
        self.alias = alias
        self.known = known


def catalogue() -> Catalogue:
    """The configured catalogue: `RELAY_MODELS`, else the single `RELAY_MODEL_ID` of `settings()` (as before the
    catalogue existed). Parsed once per distinct value; raises `lambdas.models.CatalogueError` when invalid."""
    raw = os.environ.get(models.ENV_MODELS, "").strip()
    if raw:
        return _parsed(raw)
    return _single(settings().model_id)


@lru_cache(maxsize=4)
def _parsed(raw: str) -> Catalogue:
    return models.parse_catalogue(raw)


@lru_cache(maxsize=4)
def _single(model_id: str) -> Catalogue:
    return models.single_model_catalogue(model_id)


def resolve(alias: str | None) -> tuple[str, Provider]:
    """The (alias, provider) for a client's `model` (None = the default). Raises UnknownModelError."""
    current = catalogue()
    spec = current.get(alias)
    if spec is None:
        raise UnknownModelError(alias or "", current.aliases)
    return spec.alias, provider_for(spec)


def provider_for(spec: ModelSpec) -> Provider:
    """The provider serving one catalogue entry."""
    provider = _build(spec)
    if spec.max_tokens_limit is not None:
        return MaxTokensCap(provider, spec.max_tokens_limit)
    return provider


def _build(spec: ModelSpec) -> Provider:
    if spec.provider == models.BEDROCK:
        return BedrockInvokeProvider(clients.bedrock_runtime(), spec.model_id or "", CODECS[spec.family or ""])
    if spec.provider == models.BEDROCK_CONVERSE:
        return BedrockConverseProvider(clients.bedrock_runtime(), spec.model_id or "")
    if spec.provider == models.SAGEMAKER:
        return SageMakerProvider(
            clients.sagemaker_runtime(),
            spec.endpoint_name or "",
            spec.format or "",
            spec.template or models.DEFAULT_SAGEMAKER_TEMPLATE,
        )
    if spec.provider == models.OPENAI:
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
