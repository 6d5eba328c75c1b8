"""Authentication of WebSocket clients: JWTs from Cognito (the default) or any OIDC issuer, verified on `$connect`.

`verify(token) -> Identity` is all a handler needs; settings come from RELAY_AUTH_* variables (see `auth_settings`).
"""

from __future__ import annotations

from lambdas.auth.config import AuthSettings, auth_settings
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
    "auth_settings",
    "cache_for",
    "clear_caches",
    "verify",
]
