"""Why a token was refused. Every error's message is safe to log: none ever carries the token or a claim's value
beyond short identifiers (alg, kid)."""

from __future__ import annotations


class AuthError(Exception):
    """The caller could not be authenticated; `reason` is a stable, log-friendly code."""

    reason = "auth_error"


class AuthNotConfiguredError(AuthError):
    """RELAY_AUTH_ISSUER or RELAY_AUTH_AUDIENCE is missing: every token is refused (fail closed)."""

    reason = "not_configured"


class TokenMissingError(AuthError):
    """No token in the `token` query parameter nor in an `Authorization: Bearer` header."""

    reason = "token_missing"


class TokenInvalidError(AuthError):
    """The token is malformed, oversized, or fails a check that has no more specific error."""

    reason = "token_invalid"


class AlgorithmNotAllowedError(TokenInvalidError):
    """The token's header names an algorithm other than RS256/ES256 (e.g. `none`, HS256)."""

    reason = "alg_not_allowed"


class KeyMismatchError(TokenInvalidError):
    """The JWKS key named by `kid` cannot verify the header's algorithm (key type, curve or `alg` differ)."""

    reason = "key_mismatch"


class UnknownKeyError(TokenInvalidError):
    """The token's `kid` is not in the issuer's JWKS, even after the allowed refresh."""

    reason = "unknown_kid"


class SignatureInvalidError(TokenInvalidError):
    """The signature does not verify against the issuer's key."""

    reason = "bad_signature"


class TokenExpiredError(TokenInvalidError):
    """`exp` is in the past (beyond the leeway)."""

    reason = "expired"


class TokenNotYetValidError(TokenInvalidError):
    """`nbf` or `iat` is in the future (beyond the leeway)."""

    reason = "not_yet_valid"


class IssuerMismatchError(TokenInvalidError):
    """`iss` is not exactly the configured issuer."""

    reason = "issuer_mismatch"


class AudienceMismatchError(TokenInvalidError):
    """Neither `aud` nor `client_id` is one of the configured audiences."""

    reason = "audience_mismatch"


class TokenUseMismatchError(TokenInvalidError):
    """`token_use` (Cognito) is not one of the configured values."""

    reason = "token_use_mismatch"


class JwksUnavailableError(AuthError):
    """The issuer's JWKS (or its discovery document) could not be fetched or read."""

    reason = "jwks_unavailable"
