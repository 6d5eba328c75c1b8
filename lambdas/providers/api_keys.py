"""API keys of OpenAI-compatible upstreams: read once per execution environment, never logged.

A key comes from Secrets Manager (`apiKeySecretArn`), an SSM SecureString (`apiKeyParameter`) or, for local runs,
an environment variable (`apiKeyEnv`); a model with none of them sends no Authorization header (Ollama).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable

from lambdas import clients
from lambdas.catalogue import ModelSpec
from lambdas.providers.errors import UPSTREAM_FAILURES, from_exception
from lambdas.providers.events import ErrorKind, UpstreamError

_lock = threading.Lock()
_cache: dict[tuple[str, str], str] = {}


class ApiKeyError(Exception):
    """The configured API key could not be read; `error` is the event that ends the answer."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.error = error


def _secret_value(arn: str) -> str:
    value = clients.secretsmanager().get_secret_value(SecretId=arn)["SecretString"]
    # A secret created from the console's key/value editor is a JSON object: take its one API-key-like field.
    try:
        parsed = json.loads(value)
    except ValueError:
        return value.strip()
    if isinstance(parsed, dict):
        for key in ("apiKey", "api_key", "OPENAI_API_KEY", "key"):
            if isinstance(parsed.get(key), str):
                return parsed[key].strip()
    return value.strip()


def _parameter_value(name: str) -> str:
    return clients.ssm().get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"].strip()


def _read(source: str, ident: str, reader: Callable[[str], str]) -> str:
    with _lock:
        if (source, ident) in _cache:
            return _cache[(source, ident)]
    value = reader(ident)
    with _lock:
        _cache[(source, ident)] = value
    return value


def api_key(spec: ModelSpec) -> str | None:
    """The model's API key, or None when it needs none. Raises ApiKeyError (the message never holds the key)."""
    try:
        if spec.api_key_secret_arn:
            return _read("secret", spec.api_key_secret_arn, _secret_value)
        if spec.api_key_parameter:
            return _read("parameter", spec.api_key_parameter, _parameter_value)
    except UPSTREAM_FAILURES as exc:
        error = from_exception(exc)
        # Throttling and outages may pass; anything else means the relay may not read its key.
        kind = error.kind if error.retryable else ErrorKind.ACCESS_DENIED
        raise ApiKeyError(
            UpstreamError(
                kind, f"cannot read the API key of model {spec.alias!r}: {error.message}", error.upstream_code
            )
        ) from exc
    if spec.api_key_env:
        value = os.environ.get(spec.api_key_env, "").strip()
        if not value:
            raise ApiKeyError(
                UpstreamError(
                    ErrorKind.ACCESS_DENIED,
                    f"model {spec.alias!r} needs an API key in ${spec.api_key_env}, which is not set",
                )
            )
        return value
    return None


def clear_cache() -> None:
    """Forget every key read (tests; a rotated secret otherwise takes effect in new execution environments)."""
    with _lock:
        _cache.clear()


__all__ = ["ApiKeyError", "api_key", "clear_cache"]
