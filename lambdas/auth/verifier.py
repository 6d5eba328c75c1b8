"""JWT verification for the `$connect` authorizer: signature against the issuer's JWKS, then the claims.

Only RS256 and ES256 are accepted, and the algorithm is checked against the key before PyJWT sees the token: that
closes `alg: none`, HS256 signed with the public key as the secret (key confusion), and curve/type swaps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from lambdas.auth.config import AuthSettings, auth_settings
from lambdas.auth.exceptions import (
    AlgorithmNotAllowedError,
    AudienceMismatchError,
    IssuerMismatchError,
    KeyMismatchError,
    SignatureInvalidError,
    TokenExpiredError,
    TokenInvalidError,
    TokenMissingError,
    TokenNotYetValidError,
    TokenUseMismatchError,
)
from lambdas.auth.jwks import Jwk, JwksCache, cache_for

ALGORITHMS: Mapping[str, tuple[str, str | None]] = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}
"""Accepted `alg` → the JWK `kty` (and `crv`) that must sign it."""
MAX_TOKEN_CHARS = 16 * 1024
"""Cognito tokens are 1-4 KB; anything far larger is refused before it is parsed."""
MAX_SUB_CHARS = 255
"""OpenID Connect Core §2: `sub` must not exceed 255 ASCII characters. It becomes a DynamoDB key prefix."""
MAX_PROFILE_CHARS = 256
"""Longer `username`/`email` values are dropped from the identity rather than passed on."""
_REQUIRED_CLAIMS = ["exp", "iss", "sub"]
_USERNAME_CLAIMS = ("username", "cognito:username", "preferred_username")
"""Cognito access tokens carry `username`, Cognito ID tokens `cognito:username`, generic OIDC `preferred_username`."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a verified token belongs to: the only claims the relay passes on."""

    user_id: str
    """The token's `sub`: stable per user of the issuer."""
    expires_at: int
    """The token's `exp` (epoch seconds)."""
    audience: str
    """The configured audience the token matched (its `aud` or `client_id`)."""
    username: str | None = None
    email: str | None = None
    token_use: str | None = None


class Verifier:
    def __init__(self, settings: AuthSettings, jwks: JwksCache) -> None:
        self._settings = settings
        self._jwks = jwks

    def verify(self, token: str | None) -> Identity:
        """The identity in a valid token. Raises an AuthError subclass saying why a token is refused."""
        if not token:
            raise TokenMissingError("no token")
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenInvalidError(f"token longer than {MAX_TOKEN_CHARS} characters")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalidError("malformed token header") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise AlgorithmNotAllowedError(f"alg {_short(alg)} is not allowed (RS256, ES256 only)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenInvalidError("the token header has no kid")
        key = _public_key(self._jwks.key(kid), alg)
        claims = self._decode(token, key, alg)
        return self._identity(claims)

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                # `aud` is checked below: Cognito access tokens carry `client_id` instead.
                options={"require": _REQUIRED_CLAIMS, "verify_aud": False},
            )
        except jwt.InvalidSignatureError as exc:
            raise SignatureInvalidError("the signature does not verify") from exc
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpiredError("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenNotYetValidError(str(exc)) from exc
        except jwt.InvalidIssuerError as exc:
            raise IssuerMismatchError("iss is not the configured issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenInvalidError(f"the token has no {exc.claim} claim") from exc
        except jwt.PyJWTError as exc:
            raise TokenInvalidError(f"the token is invalid ({type(exc).__name__})") from exc

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > MAX_SUB_CHARS or not sub.isprintable():
            raise TokenInvalidError("sub is not a printable string of 1-255 characters")
        audience = self._matching_audience(claims)
        token_use = claims.get("token_use")
        if self._settings.token_uses and token_use not in self._settings.token_uses:
            raise TokenUseMismatchError(f"token_use {_short(token_use)} is not accepted")
        return Identity(
            user_id=sub,
            expires_at=int(claims["exp"]),
            audience=audience,
            username=_first_profile(claims, _USERNAME_CLAIMS),
            email=_profile(claims.get("email")),
            token_use=token_use if isinstance(token_use, str) else None,
        )

    def _matching_audience(self, claims: Mapping[str, Any]) -> str:
        aud = claims.get("aud")
        candidates = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
        candidates.append(claims.get("client_id"))
        for candidate in candidates:
            if isinstance(candidate, str) and candidate in self._settings.audiences:
                return candidate
        raise AudienceMismatchError("neither aud nor client_id is a configured audience")


def verify(token: str | None) -> Identity:
    """Verify with this execution environment's settings and its module-level JWKS cache."""
    config = auth_settings()
    return Verifier(config, cache_for(config)).verify(token)


def _public_key(jwk: Jwk, alg: str) -> Any:
    kty, crv = ALGORITHMS[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise KeyMismatchError(f"the key named by kid cannot verify {alg}")
    if jwk.get("alg") not in (None, alg):
        raise KeyMismatchError(f"the key named by kid is for {_short(jwk.get('alg'))}, not {alg}")
    try:
        return jwt.PyJWK(dict(jwk), algorithm=alg).key
    except jwt.PyJWTError as exc:
        raise KeyMismatchError(f"the key named by kid is not a usable {kty} key") from exc


def _first_profile(claims: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    return next((value for value in (_profile(claims.get(name)) for name in names) if value), None)


def _profile(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_PROFILE_CHARS else None


def _short(value: Any) -> str:
    # Header and claim values are attacker-chosen: keep what reaches the logs short.
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"
