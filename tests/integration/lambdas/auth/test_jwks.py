"""The JWKS cache: warm invocations never fetch, random kids cannot make us hammer the issuer, rotations are picked
up, and an unreachable issuer denies (or keeps using keys it already had). Also the RELAY_AUTH_* settings."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas import auth, env_vars
from lambdas.auth import jwks
from lambdas.auth.jwks import JWKS_MAX_AGE_S, MAX_STALE_S, MIN_REFRESH_INTERVAL_S, RETRY_AFTER_FAILURE_S
from tests.auth_fakes import AUDIENCE, JWKS_PATH, FakeIssuer, JwksServer, LogCapture, ManualClock, capture_logs

DISCOVERY_PATH = "/.well-known/openid-configuration"


@pytest.fixture
def issuer(jwks_server: JwksServer) -> FakeIssuer:
    fake = FakeIssuer(jwks_server.url)
    fake.add_key("ES256", kid="ec-1")
    jwks_server.serve_json(JWKS_PATH, fake.jwks)
    return fake


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    yield from capture_logs()


def verifier_for(issuer: FakeIssuer, clock: ManualClock, **overrides: Any) -> tuple[auth.Verifier, auth.JwksCache]:
    options: dict[str, Any] = {
        "issuer": issuer.url,
        "audiences": frozenset({AUDIENCE}),
        "token_uses": frozenset(),
        "jwks_url": None,
    }
    options.update(overrides)
    config = auth.AuthSettings(**options)
    discovery = config.discovery_url if config.oidc_discovery and config.jwks_url is None else None
    cache = auth.JwksCache(
        jwks_url=None if discovery else (config.jwks_url or config.default_jwks_url),
        discovery_url=discovery,
        issuer=config.issuer,
        clock=clock,
    )
    return auth.Verifier(config, cache), cache


def test_many_verifications_fetch_the_jwks_once(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock
) -> None:
    verifier, _ = verifier_for(issuer, clock)

    for n in range(20):
        verifier.verify(issuer.token("ec-1", sub=f"user-{n}"))
        clock.advance(60)  # 20 minutes in all: well inside the max age

    assert jwks_server.hits[JWKS_PATH] == 1


def test_keys_older_than_the_max_age_are_fetched_again(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock
) -> None:
    verifier, _ = verifier_for(issuer, clock)
    verifier.verify(issuer.token("ec-1"))

    clock.advance(JWKS_MAX_AGE_S + 1)
    verifier.verify(issuer.token("ec-1"))

    assert jwks_server.hits[JWKS_PATH] == 2


def test_an_unknown_kid_right_after_a_fetch_is_refused_without_fetching(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock
) -> None:
    verifier, _ = verifier_for(issuer, clock)
    verifier.verify(issuer.token("ec-1"))
    stranger = issuer.add_key("ES256", publish=False)

    with pytest.raises(auth.UnknownKeyError):
        verifier.verify(issuer.token(stranger))

    assert jwks_server.hits[JWKS_PATH] == 1


def test_unknown_kids_refresh_once_then_are_refused_without_hammering_the_issuer(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock
) -> None:
    verifier, _ = verifier_for(issuer, clock)
    verifier.verify(issuer.token("ec-1"))
    clock.advance(MIN_REFRESH_INTERVAL_S)

    for _ in range(50):
        with pytest.raises(auth.UnknownKeyError):
            verifier.verify(issuer.token(issuer.add_key("ES256", publish=False)))

    assert jwks_server.hits[JWKS_PATH] == 2
    # The known key still works, from the cache.
    verifier.verify(issuer.token("ec-1"))
    assert jwks_server.hits[JWKS_PATH] == 2


def test_a_rotated_key_is_picked_up_by_one_refresh(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock
) -> None:
    verifier, _ = verifier_for(issuer, clock)
    verifier.verify(issuer.token("ec-1"))
    clock.advance(MIN_REFRESH_INTERVAL_S + 1)
    rotated = issuer.add_key("RS256")  # the issuer publishes a new key and signs with it

    assert verifier.verify(issuer.token(rotated)).user_id == "user-1"
    assert jwks_server.hits[JWKS_PATH] == 2


def test_an_unreachable_issuer_denies_and_is_not_retried_in_a_storm(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock
) -> None:
    jwks_server.fail(JWKS_PATH, 503)
    verifier, _ = verifier_for(issuer, clock)

    for _ in range(10):
        with pytest.raises(auth.JwksUnavailableError):
            verifier.verify(issuer.token("ec-1"))
    assert jwks_server.hits[JWKS_PATH] == 1

    clock.advance(RETRY_AFTER_FAILURE_S)
    jwks_server.serve_json(JWKS_PATH, issuer.jwks)
    assert verifier.verify(issuer.token("ec-1")).user_id == "user-1"
    assert jwks_server.hits[JWKS_PATH] == 2


def test_a_closed_port_is_reported_as_jwks_unavailable(issuer: FakeIssuer, clock: ManualClock) -> None:
    # Bound but never listening: connections are refused, and no other process can take the port meanwhile
    # (a port merely "free a moment ago" was once grabbed by another server that accepted and never answered).
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        verifier, _ = verifier_for(issuer, clock, jwks_url=f"http://127.0.0.1:{port}{JWKS_PATH}")

        with pytest.raises(auth.JwksUnavailableError):
            verifier.verify(issuer.token("ec-1"))


def test_keys_already_fetched_keep_working_while_the_issuer_is_down(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock, logs: LogCapture
) -> None:
    verifier, _ = verifier_for(issuer, clock)
    verifier.verify(issuer.token("ec-1"))
    jwks_server.fail(JWKS_PATH)
    clock.advance(JWKS_MAX_AGE_S + 1)

    assert verifier.verify(issuer.token("ec-1")).user_id == "user-1"
    assert any("still using the keys" in message for message in logs.messages("WARNING"))

    clock.advance(MAX_STALE_S)
    with pytest.raises(auth.JwksUnavailableError):
        verifier.verify(issuer.token("ec-1"))


def test_oidc_discovery_finds_the_jwks_once(jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock) -> None:
    jwks_server.serve_json("/keys", issuer.jwks)
    jwks_server.serve_json(DISCOVERY_PATH, lambda: {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys"})
    verifier, _ = verifier_for(issuer, clock, oidc_discovery=True)

    for _ in range(5):
        verifier.verify(issuer.token("ec-1"))
    clock.advance(JWKS_MAX_AGE_S + 1)
    verifier.verify(issuer.token("ec-1"))

    assert jwks_server.hits[DISCOVERY_PATH] == 1
    assert jwks_server.hits["/keys"] == 2


@pytest.mark.parametrize(
    "document",
    [
        {"issuer": "https://someone-else.example", "jwks_uri": "https://someone-else.example/keys"},
        {"issuer": "SAME", "jwks_uri": "http://jwks.example/keys"},  # plain http off loopback
        {"issuer": "SAME"},
    ],
    ids=["another issuer", "jwks_uri over http", "no jwks_uri"],
)
def test_a_discovery_document_that_cannot_be_trusted_denies(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock, document: dict[str, str]
) -> None:
    document = {key: issuer.url if value == "SAME" else value for key, value in document.items()}
    jwks_server.serve_json(DISCOVERY_PATH, lambda: document)
    verifier, _ = verifier_for(issuer, clock, oidc_discovery=True)

    with pytest.raises(auth.JwksUnavailableError):
        verifier.verify(issuer.token("ec-1"))


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (302, None), (200, b"<html>not json</html>"), (200, b'{"keys": "nope"}'), (200, b"[]")],
    ids=["server error", "redirect", "not JSON", "keys not a list", "not an object"],
)
def test_a_broken_jwks_response_is_jwks_unavailable(
    jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock, status: int, body: bytes | None
) -> None:
    jwks_server.routes[JWKS_PATH] = lambda: (status, body or b"{}")
    verifier, _ = verifier_for(issuer, clock)

    with pytest.raises(auth.JwksUnavailableError):
        verifier.verify(issuer.token("ec-1"))


def test_an_oversized_jwks_document_is_refused(jwks_server: JwksServer, issuer: FakeIssuer, clock: ManualClock) -> None:
    jwks_server.routes[JWKS_PATH] = lambda: (200, b'{"keys": [], "pad": "' + b"x" * jwks.MAX_DOCUMENT_BYTES + b'"}')
    verifier, _ = verifier_for(issuer, clock)

    with pytest.raises(auth.JwksUnavailableError):
        verifier.verify(issuer.token("ec-1"))


def test_encryption_keys_and_keys_without_kid_are_ignored() -> None:
    keys = jwks.parse_jwks(
        {"keys": [{"kty": "RSA", "kid": "enc", "use": "enc"}, {"kty": "EC"}, "junk", {"kty": "EC", "kid": "sig"}]}
    )

    assert list(keys) == ["sig"]


def test_the_module_level_cache_is_shared_by_every_invocation(
    jwks_server: JwksServer, issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hermetic: a gateway started earlier in this process may have left its own RELAY_AUTH_* values behind.
    for name in (
        env_vars.AUTH_JWKS_URL,
        env_vars.AUTH_TOKEN_USE,
        env_vars.AUTH_OIDC_DISCOVERY,
        env_vars.AUTH_LEEWAY_SECONDS,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(env_vars.AUTH_ISSUER, issuer.url)
    monkeypatch.setenv(env_vars.AUTH_AUDIENCE, f"someone-else, {AUDIENCE}")
    auth.auth_settings.cache_clear()
    auth.clear_caches()
    try:
        for _ in range(5):
            assert auth.verify(issuer.token("ec-1")).user_id == "user-1"
    finally:
        auth.auth_settings.cache_clear()
        auth.clear_caches()

    assert jwks_server.hits[JWKS_PATH] == 1


# Settings.


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        env_vars.AUTH_ISSUER,
        env_vars.AUTH_AUDIENCE,
        env_vars.AUTH_TOKEN_USE,
        env_vars.AUTH_JWKS_URL,
        env_vars.AUTH_OIDC_DISCOVERY,
        env_vars.AUTH_LEEWAY_SECONDS,
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_settings_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv(env_vars.AUTH_ISSUER, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc")
    env.setenv(env_vars.AUTH_AUDIENCE, " app1 ,app2,, ")
    env.setenv(env_vars.AUTH_TOKEN_USE, "access")
    env.setenv(env_vars.AUTH_LEEWAY_SECONDS, "30")

    config = auth.AuthSettings.from_env()

    assert config.audiences == {"app1", "app2"}
    assert config.token_uses == {"access"}
    assert config.leeway_seconds == 30
    assert config.default_jwks_url == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc/.well-known/jwks.json"
    assert auth.cache_for(config) is auth.cache_for(config)


def test_defaults_leeway_60_and_no_token_use_check(env: pytest.MonkeyPatch) -> None:
    env.setenv(env_vars.AUTH_ISSUER, "https://issuer.example")
    env.setenv(env_vars.AUTH_AUDIENCE, "app")

    config = auth.AuthSettings.from_env()

    assert (config.leeway_seconds, config.token_uses, config.jwks_url, config.oidc_discovery) == (
        60,
        frozenset(),
        None,
        False,
    )


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {env_vars.AUTH_ISSUER: "https://issuer.example"},
        {env_vars.AUTH_AUDIENCE: "app"},
        {env_vars.AUTH_ISSUER: "http://issuer.example", env_vars.AUTH_AUDIENCE: "app"},
        {env_vars.AUTH_ISSUER: "x", env_vars.AUTH_AUDIENCE: "app", env_vars.AUTH_JWKS_URL: "http://10.0.0.1/jwks"},
        {
            env_vars.AUTH_ISSUER: "https://i.example",
            env_vars.AUTH_AUDIENCE: "app",
            env_vars.AUTH_LEEWAY_SECONDS: "soon",
        },
        {
            env_vars.AUTH_ISSUER: "https://i.example",
            env_vars.AUTH_AUDIENCE: "app",
            env_vars.AUTH_LEEWAY_SECONDS: "3600",
        },
    ],
    ids=["nothing", "no audience", "no issuer", "issuer over http", "jwks over http", "leeway NaN", "leeway 1 h"],
)
def test_incomplete_or_unsafe_settings_fail_closed(env: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name, value in variables.items():
        env.setenv(name, value)

    with pytest.raises(auth.AuthNotConfiguredError):
        auth.AuthSettings.from_env()


def test_an_explicit_jwks_url_lets_the_issuer_be_any_string(env: pytest.MonkeyPatch) -> None:
    env.setenv(env_vars.AUTH_ISSUER, "urn:example:issuer")
    env.setenv(env_vars.AUTH_AUDIENCE, "app")
    env.setenv(env_vars.AUTH_JWKS_URL, "https://keys.example/jwks.json")

    assert auth.AuthSettings.from_env().jwks_url == "https://keys.example/jwks.json"
