"""The authorizer's settings, read from the environment once per execution environment (`auth_settings()`).

The CDK stack writes these variables for the deployed authorizer; localgw writes them from its DevIssuer
(`DevIssuer.env()`). Missing or unusable values make every token fail (fail closed), never pass. The variables
(`lambdas.env_vars.AUTH_*`):

- `RELAY_AUTH_ISSUER`: the exact `iss` of accepted tokens, e.g. `https://cognito-idp.{region}.amazonaws.com/{poolId}`;
- `RELAY_AUTH_AUDIENCE`: comma-separated accepted audiences, matched against `aud` (ID tokens, OIDC) or `client_id`
  (Cognito access tokens);
- `RELAY_AUTH_TOKEN_USE`: optional comma-separated accepted `token_use` values (Cognito: `access`, `id`); empty means
  not checked;
- `RELAY_AUTH_JWKS_URL`: optional JWKS URL; default `{issuer}/.well-known/jwks.json` (Cognito's layout);
- `RELAY_AUTH_OIDC_DISCOVERY`: `true` finds the JWKS URL once through `{issuer}/.well-known/openid-configuration`
  (ignored with a JWKS URL);
- `RELAY_AUTH_LEEWAY_SECONDS`: clock skew tolerated on `exp`, `nbf` and `iat`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from lambdas import env_vars
from lambdas.auth.exceptions import AuthNotConfiguredError

DEFAULT_LEEWAY_SECONDS = 60
MAX_LEEWAY_SECONDS = 600
"""A larger leeway would quietly extend every token's life; refuse it as a configuration error."""

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class AuthSettings:
    issuer: str
    audiences: frozenset[str]
    token_uses: frozenset[str]
    """Empty: `token_use` is not checked."""
    jwks_url: str | None
    """None: the default layout, or discovery when `oidc_discovery` is set."""
    oidc_discovery: bool = False
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS

    def __post_init__(self) -> None:
        if not self.issuer:
            raise AuthNotConfiguredError(f"{env_vars.AUTH_ISSUER} is not set")
        if not self.audiences:
            # Without an audience any client of the same issuer (another app of the same user pool) would pass.
            raise AuthNotConfiguredError(f"{env_vars.AUTH_AUDIENCE} is not set")
        if not 0 <= self.leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise AuthNotConfiguredError(f"{env_vars.AUTH_LEEWAY_SECONDS} must be between 0 and {MAX_LEEWAY_SECONDS}")
        # The keys are fetched from the JWKS URL when one is given, otherwise from under the issuer.
        if self.jwks_url is not None:
            check_fetchable(self.jwks_url, env_vars.AUTH_JWKS_URL)
        else:
            check_fetchable(self.issuer, env_vars.AUTH_ISSUER)

    @property
    def default_jwks_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/jwks.json"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    @classmethod
    def from_env(cls) -> AuthSettings:
        raw_leeway = os.environ.get(env_vars.AUTH_LEEWAY_SECONDS, "").strip()
        try:
            leeway = int(raw_leeway) if raw_leeway else DEFAULT_LEEWAY_SECONDS
        except ValueError as exc:
            raise AuthNotConfiguredError(f"{env_vars.AUTH_LEEWAY_SECONDS} must be an integer") from exc
        return cls(
            issuer=os.environ.get(env_vars.AUTH_ISSUER, "").strip(),
            audiences=_csv(env_vars.AUTH_AUDIENCE),
            token_uses=_csv(env_vars.AUTH_TOKEN_USE),
            jwks_url=os.environ.get(env_vars.AUTH_JWKS_URL, "").strip() or None,
            oidc_discovery=os.environ.get(env_vars.AUTH_OIDC_DISCOVERY, "").strip().lower() in ("1", "true", "yes"),
            leeway_seconds=leeway,
        )


def check_fetchable(url: str, name: str) -> None:
    """Keys are only trusted over TLS; plain http is allowed for loopback (localgw's dev issuer) alone."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise AuthNotConfiguredError(f"{name} must be an https:// URL (http:// only for loopback hosts)")


def _csv(name: str) -> frozenset[str]:
    return frozenset(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


@cache
def auth_settings() -> AuthSettings:
    """This execution environment's settings (tests and localgw call `auth_settings.cache_clear()` after a change).

    Raises AuthNotConfiguredError, and keeps raising it on every call: `cache` does not remember exceptions.
    """
    return AuthSettings.from_env()
