"""localgw's dev issuer, mounted on a real aiohttp app on 127.0.0.1: the tokens it mints pass the real authorizer,
`/dev/token` only mints for sensible user names, and the JWKS it serves holds no private key material."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from aiohttp import web

from lambdas import auth, env_vars
from lambdas.handlers import authorizer
from localgw.dev_issuer import DEFAULT_SUB, DEV_AUDIENCE, DevIssuer, add_routes
from tests.auth_fakes import METHOD_ARN, FakeContext, authorizer_event


class RunningApp:
    """An aiohttp app served from its own event-loop thread (the authorizer under test is synchronous)."""

    def __init__(self, app: web.Application) -> None:
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def serve(algorithm: str) -> tuple[DevIssuer, RunningApp]:
    # Mounted before the port is known, named after: how localgw starts on port 0.
    issuer = DevIssuer("http://127.0.0.1:1", algorithm=algorithm)
    app = web.Application()
    add_routes(app, issuer)
    running = RunningApp(app)
    issuer.base_url = f"http://127.0.0.1:{running.port}/"
    return issuer, running


@pytest.fixture(scope="module", params=["ES256", "RS256"])
def dev(request: pytest.FixtureRequest) -> Iterator[DevIssuer]:
    issuer, running = serve(request.param)
    yield issuer
    running.stop()


@pytest.fixture
def authorizer_env(dev: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> Iterator[DevIssuer]:
    for name in (env_vars.AUTH_OIDC_DISCOVERY, env_vars.AUTH_LEEWAY_SECONDS):
        monkeypatch.delenv(name, raising=False)
    for name, value in dev.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    auth.auth_settings.cache_clear()
    auth.clear_caches()
    yield dev
    auth.auth_settings.cache_clear()
    auth.clear_caches()


def get(url: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = urllib3.PoolManager().request("GET", url, retries=False)
    return response.status, json.loads(response.data), dict(response.headers)


def test_minted_tokens_pass_the_real_verifier(authorizer_env: DevIssuer) -> None:
    identity = auth.verify(authorizer_env.mint("alice@example.com", ttl=120, email="alice@example.com"))

    assert (identity.user_id, identity.username, identity.email) == (
        "alice@example.com",
        "alice@example.com",
        "alice@example.com",
    )
    assert identity.audience == DEV_AUDIENCE
    assert identity.expires_at - time.time() <= 120


def test_the_token_route_gives_a_token_the_authorizer_allows(authorizer_env: DevIssuer) -> None:
    status, body, headers = get(f"{authorizer_env.issuer}/dev/token?sub=bob_1")

    assert status == 200
    assert body["sub"] == "bob_1"
    assert 0 < body["expiresAt"] - time.time() <= 3600
    assert headers["Cache-Control"] == "no-store"
    answer = authorizer.handler(authorizer_event(query={"token": body["token"]}), FakeContext())
    assert answer["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": METHOD_ARN,
    }
    assert answer["context"]["userId"] == "bob_1"


def test_the_token_route_defaults_to_the_dev_user(authorizer_env: DevIssuer) -> None:
    status, body, _ = get(f"{authorizer_env.issuer}/dev/token")

    assert status == 200
    assert body["sub"] == DEFAULT_SUB
    assert auth.verify(body["token"]).user_id == DEFAULT_SUB


def test_a_short_ttl_gives_a_token_that_expires(authorizer_env: DevIssuer) -> None:
    status, body, _ = get(f"{authorizer_env.issuer}/dev/token?sub=carol&ttl=1")

    assert status == 200
    assert body["expiresAt"] <= time.time() + 1


@pytest.mark.parametrize(
    "query",
    [
        "sub=",
        "sub=a%20b",
        "sub=" + "x" * 129,
        "sub=%3Cscript%3E",
        "sub=%C3%BC",
        "sub=a/b",
        "ttl=0",
        "ttl=86401",
        "ttl=x",
    ],
    ids=["empty", "space", "129 chars", "markup", "non-ascii", "slash", "ttl 0", "ttl over a day", "ttl not a number"],
)
def test_the_token_route_refuses_bad_input(dev: DevIssuer, query: str) -> None:
    status, body, _ = get(f"{dev.issuer}/dev/token?{query}")

    assert status == 400
    assert "token" not in body


def test_the_jwks_holds_only_the_public_key(dev: DevIssuer) -> None:
    status, body, headers = get(f"{dev.issuer}/.well-known/jwks.json")

    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    [key] = body["keys"]
    assert (key["kid"], key["alg"], key["use"]) == (dev.kid, dev.algorithm, "sig")
    # d (private exponent / scalar) and the RSA CRT values would be the private key.
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_oidc_discovery_against_the_dev_issuer(authorizer_env: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(env_vars.AUTH_JWKS_URL)
    monkeypatch.setenv(env_vars.AUTH_OIDC_DISCOVERY, "true")
    auth.auth_settings.cache_clear()

    assert auth.verify(authorizer_env.mint("dave")).user_id == "dave"


def test_tokens_of_another_dev_issuer_are_refused(authorizer_env: DevIssuer) -> None:
    # Same URL and kid scheme, different key pair: e.g. a token minted before localgw restarted.
    stranger = DevIssuer(authorizer_env.issuer)

    with pytest.raises(auth.TokenInvalidError):
        auth.verify(stranger.mint("mallory"))


def test_claims_can_be_overridden_to_make_refused_tokens(authorizer_env: DevIssuer) -> None:
    with pytest.raises(auth.AudienceMismatchError):
        auth.verify(authorizer_env.mint("erin", aud="someone-else"))
    with pytest.raises(auth.TokenExpiredError):
        auth.verify(authorizer_env.mint("erin", exp=int(time.time()) - 3600))


def test_env_names_what_the_authorizer_needs(dev: DevIssuer) -> None:
    assert dev.env() == {
        env_vars.AUTH_ISSUER: dev.issuer,
        env_vars.AUTH_AUDIENCE: DEV_AUDIENCE,
        env_vars.AUTH_JWKS_URL: f"{dev.issuer}/.well-known/jwks.json",
        env_vars.AUTH_TOKEN_USE: "",
    }


@pytest.mark.parametrize("base_url", ["http://0.0.0.0:8080", "http://192.168.1.10:8080", "ftp://127.0.0.1"])
def test_the_issuer_url_must_be_one_the_authorizer_may_fetch_from(base_url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        DevIssuer(base_url)


@pytest.mark.parametrize(("sub", "ttl"), [("a b", 60), ("ok", 0), ("ok", 86401)])
def test_mint_refuses_bad_arguments(sub: str, ttl: int) -> None:
    with pytest.raises(ValueError):
        DevIssuer("http://127.0.0.1:8080").mint(sub, ttl)
