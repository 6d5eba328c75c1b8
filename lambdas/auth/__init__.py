"""Authentication of WebSocket clients: JWTs from Cognito (the default) or any OIDC issuer, verified on `$connect`.

`verify(token) -> Identity` is all a handler needs; settings come from RELAY_AUTH_* variables (see `settings`).
"""

from __future__ import annotations

from lambdas.auth.config import (
    ENV_AUDIENCE,
    ENV_ISSUER,
    ENV_JWKS_URL,
    ENV_LEEWAY_SECONDS,
    ENV_OIDC_DISCOVERY,
    ENV_TOKEN_USE,
    AuthSettings,
    settings,
)
from lambdas.auth.exceptions import (
    AlgorithmNotAllowedError,
    AudienceMismatchError,
    AuthError,
    AuthNotConfiguredError,
    IssuerMismatchError,
    JwksUnavailableError,
    KeyMismatchError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenInvalidError,
    TokenMissingError,
    TokenNotYetValidError,
    TokenUseMismatchError,
    UnknownKeyError,
)
from lambdas.auth.jwks import JwksCache, cache_for, clear_caches
from lambdas.auth.verifier import Identity, Verifier, verify

__all__ = [
    "ENV_AUDIENCE",
    "ENV_ISSUER",
    "ENV_JWKS_URL",
    "ENV_LEEWAY_SECONDS",
    "ENV_OIDC_DISCOVERY",
    "ENV_TOKEN_USE",
    "AlgorithmNotAllowedError",
    "AudienceMismatchError",
    "AuthError",
    "AuthNotConfiguredError",
    "AuthSettings",
    "Identity",
    "IssuerMismatchError",
    "JwksCache",
    "JwksUnavailableError",
    "KeyMismatchError",
    "SignatureInvalidError",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenMissingError",
    "TokenNotYetValidError",
    "TokenUseMismatchError",
    "UnknownKeyError",
    "Verifier",
    "cache_for",
    "clear_caches",
    "settings",
    "verify",
]
