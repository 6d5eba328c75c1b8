"""A local token issuer for localgw, so `$connect` runs the real authorizer with no Cognito and no network.

LOCAL ONLY: it signs a token for any user who asks. It must never be part of the deployed stack (nothing under
`stacks/` or `lambdas/` imports it).

The gateway creates one `DevIssuer` with its own base URL as the issuer, mounts it with `add_routes(app, issuer)`:

- `GET /.well-known/jwks.json` — the public key (what `lambdas.auth` fetches),
- `GET /.well-known/openid-configuration` — minimal discovery document,
- `GET /dev/token?sub=<user>[&ttl=<seconds>]` — `{"token", "expiresAt", "sub"}`,

and gives the handlers `issuer.env()` (RELAY_AUTH_* variables). The key pair is made at start and never stored.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from lambdas import env_vars
from lambdas.auth.config import check_fetchable
from lambdas.auth.exceptions import AuthNotConfiguredError

DEV_AUDIENCE = "ws-relay-local"
DEFAULT_SUB = "dev-user"
DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 24 * 3600
SUB_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"
TOKEN_PATH = "/dev/token"
_ALGORITHMS = ("ES256", "RS256")


class DevIssuer:
    """A key pair and the tokens it signs, for one issuer URL (localgw's `http://HOST:PORT`)."""

    def __init__(self, base_url: str, audience: str = DEV_AUDIENCE, *, algorithm: str = "ES256") -> None:
        if algorithm not in _ALGORITHMS:
            raise ValueError(f"algorithm must be one of {_ALGORITHMS}, got {algorithm!r}")
        self.base_url = base_url
        self.audience = audience
        self.algorithm = algorithm
        self.kid = f"dev-{secrets.token_hex(8)}"
        # A P-256 key is made in a millisecond; a 2048-bit RSA key in tens of them.
        self._key: Any = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        # Settable so a gateway bound to port 0 can mount the routes first and name its URL once it knows the port.
        # The authorizer fetches keys over plain http from loopback hosts only: use 127.0.0.1 even when the
        # gateway listens on 0.0.0.0 (the authorizer runs in the gateway's own process).
        try:
            check_fetchable(value, "base_url")
        except AuthNotConfiguredError as exc:
            raise ValueError(str(exc)) from exc
        self._base_url = value.rstrip("/")

    @property
    def issuer(self) -> str:
        """The `iss` of every token: the gateway's base URL."""
        return self._base_url

    @property
    def jwks_url(self) -> str:
        return f"{self._base_url}{JWKS_PATH}"

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK Set."""
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        public = json.loads(algorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": self.algorithm, "use": "sig"}]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": [self.algorithm],
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
        }

    def mint(self, sub: str = DEFAULT_SUB, ttl: int = DEFAULT_TTL_SECONDS, **claims: Any) -> str:
        """A signed token for `sub`, valid for `ttl` seconds. `claims` add to or override the standard ones
        (e.g. `aud="other"` or `exp=...` to make a token the authorizer refuses)."""
        if not SUB_PATTERN.fullmatch(sub):
            raise ValueError("sub must be 1-128 characters of A-Z a-z 0-9 _ . @ -")
        if not 1 <= ttl <= MAX_TTL_SECONDS:
            raise ValueError(f"ttl must be between 1 and {MAX_TTL_SECONDS} seconds")
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl,
            "token_use": "access",
            "username": sub,
            "jti": secrets.token_urlsafe(12),
            **claims,
        }
        return jwt.encode(payload, self._key, algorithm=self.algorithm, headers={"kid": self.kid})

    def env(self) -> dict[str, str]:
        """The RELAY_AUTH_* variables under which the authorizer accepts this issuer's tokens."""
        return {
            env_vars.AUTH_ISSUER: self.issuer,
            env_vars.AUTH_AUDIENCE: self.audience,
            env_vars.AUTH_JWKS_URL: self.jwks_url,
            env_vars.AUTH_TOKEN_USE: "",
        }


def add_routes(app: web.Application, issuer: DevIssuer) -> None:
    """Mount the JWKS, discovery and token routes on localgw's aiohttp app (before it starts)."""

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response(issuer.jwks(), headers={"Cache-Control": "max-age=300"})

    async def discovery(_: web.Request) -> web.Response:
        return web.json_response(issuer.discovery())

    async def token(request: web.Request) -> web.Response:
        sub = request.query.get("sub", DEFAULT_SUB)
        if not SUB_PATTERN.fullmatch(sub):
            return _error(400, "sub must be 1-128 characters of A-Z a-z 0-9 _ . @ -")
        raw_ttl = request.query.get("ttl", str(DEFAULT_TTL_SECONDS))
        if not raw_ttl.isdigit() or not 1 <= int(raw_ttl) <= MAX_TTL_SECONDS:
            return _error(400, f"ttl must be a whole number of seconds between 1 and {MAX_TTL_SECONDS}")
        expires_at = int(time.time()) + int(raw_ttl)
        minted = issuer.mint(sub, int(raw_ttl), exp=expires_at)
        return web.json_response(
            {"token": minted, "expiresAt": expires_at, "sub": sub}, headers={"Cache-Control": "no-store"}
        )

    app.router.add_get(JWKS_PATH, jwks)
    app.router.add_get(DISCOVERY_PATH, discovery)
    app.router.add_get(TOKEN_PATH, token)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)
