"""Token verification: what a client with a good token gets through, and every way a bad token is refused.

Keys are made in the test; the JWKS is served from 127.0.0.1 (no network, no AWS).
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from lambdas import auth
from lambdas.auth.verifier import MAX_TOKEN_CHARS
from tests.auth_fakes import AUDIENCE, JWKS_PATH, FakeIssuer, JwksServer, hs256_token, unsigned_token


@pytest.fixture
def issuer(jwks_server: JwksServer) -> FakeIssuer:
    fake = FakeIssuer(jwks_server.url)
    fake.add_key("ES256", kid="ec-1")
    fake.add_key("RS256", kid="rsa-1")
    jwks_server.serve_json(JWKS_PATH, fake.jwks)
    return fake


def make_verifier(issuer: FakeIssuer, **overrides: Any) -> auth.Verifier:
    options: dict[str, Any] = {
        "issuer": issuer.url,
        "audiences": frozenset({AUDIENCE}),
        "token_uses": frozenset(),
        "jwks_url": None,
    }
    options.update(overrides)
    config = auth.AuthSettings(**options)
    return auth.Verifier(config, auth.JwksCache(jwks_url=config.default_jwks_url, issuer=config.issuer))


@pytest.mark.parametrize("kid", ["ec-1", "rsa-1"], ids=["ES256", "RS256"])
def test_a_valid_token_gives_the_users_identity(issuer: FakeIssuer, kid: str) -> None:
    identity = make_verifier(issuer).verify(issuer.token(kid))

    assert identity.user_id == "user-1"
    assert identity.username == "user1"
    assert identity.email == "user1@example.com"
    assert identity.audience == AUDIENCE


def test_a_cognito_access_token_matches_on_client_id_and_token_use(issuer: FakeIssuer) -> None:
    # Cognito access tokens have no `aud`: the app client is in `client_id`.
    token = issuer.token("rsa-1", aud=None, client_id=AUDIENCE, token_use="access", username="alice")

    identity = make_verifier(issuer, token_uses=frozenset({"access"})).verify(token)

    assert (identity.user_id, identity.username, identity.token_use) == ("user-1", "alice", "access")


def test_an_audience_list_is_accepted_when_one_entry_matches(issuer: FakeIssuer) -> None:
    assert make_verifier(issuer).verify(issuer.token("ec-1", aud=["other", AUDIENCE])).audience == AUDIENCE


def test_a_token_expired_within_the_leeway_is_still_accepted(issuer: FakeIssuer) -> None:
    token = issuer.token("ec-1", exp=int(time.time()) - 30)

    assert make_verifier(issuer, leeway_seconds=60).verify(token).user_id == "user-1"


def _now() -> int:
    return int(time.time())


# (what the token is, how to make it from the fake issuer, the error the client's connection is refused with)
NEGATIVE_CASES = [
    ("no token", lambda i: "", auth.TokenMissingError),
    ("not a JWT", lambda i: "not-a-token", auth.TokenInvalidError),
    ("oversized", lambda i: "a" * (MAX_TOKEN_CHARS + 1), auth.TokenInvalidError),
    ("expired", lambda i: i.token("ec-1", exp=_now() - 120), auth.TokenExpiredError),
    ("not yet valid (nbf)", lambda i: i.token("ec-1", nbf=_now() + 300), auth.TokenNotYetValidError),
    ("issued in the future (iat)", lambda i: i.token("ec-1", iat=_now() + 300), auth.TokenNotYetValidError),
    ("wrong issuer", lambda i: i.token("ec-1", iss="https://evil.example"), auth.IssuerMismatchError),
    ("issuer differs by a slash", lambda i: i.token("ec-1", iss=i.url + "/"), auth.IssuerMismatchError),
    ("wrong audience", lambda i: i.token("ec-1", aud="another-client"), auth.AudienceMismatchError),
    ("wrong client_id", lambda i: i.token("ec-1", aud=None, client_id="other"), auth.AudienceMismatchError),
    ("no audience at all", lambda i: i.token("ec-1", aud=None), auth.AudienceMismatchError),
    ("no exp", lambda i: i.token("ec-1", exp=None), auth.TokenInvalidError),
    ("no sub", lambda i: i.token("ec-1", sub=None), auth.TokenInvalidError),
    ("no iss", lambda i: i.token("ec-1", iss=None), auth.TokenInvalidError),
    ("empty sub", lambda i: i.token("ec-1", sub=""), auth.TokenInvalidError),
    ("sub too long", lambda i: i.token("ec-1", sub="u" * 256), auth.TokenInvalidError),
    ("sub with a newline", lambda i: i.token("ec-1", sub="a\nb"), auth.TokenInvalidError),
    ("no kid", lambda i: jwt.encode(i.claims(), i.keys["ec-1"][1], algorithm="ES256"), auth.TokenInvalidError),
    ("unknown kid", lambda i: i.token(i.add_key("ES256", publish=False)), auth.UnknownKeyError),
    ("signed by another key", lambda i: _forged(i), auth.SignatureInvalidError),
    ("tampered claims", lambda i: _tampered(i), auth.SignatureInvalidError),
    ("alg none", lambda i: unsigned_token({"alg": "none", "kid": "ec-1"}, i.claims()), auth.AlgorithmNotAllowedError),
    (
        "HS256 with the public key as secret",
        lambda i: hs256_token({"alg": "HS256", "kid": "rsa-1"}, i.claims(), i.public_pem("rsa-1")),
        auth.AlgorithmNotAllowedError,
    ),
    ("RS512", lambda i: unsigned_token({"alg": "RS512", "kid": "rsa-1"}, i.claims()), auth.AlgorithmNotAllowedError),
    ("PS256", lambda i: unsigned_token({"alg": "PS256", "kid": "rsa-1"}, i.claims()), auth.AlgorithmNotAllowedError),
    ("ES384", lambda i: unsigned_token({"alg": "ES384", "kid": "ec-1"}, i.claims()), auth.AlgorithmNotAllowedError),
    (
        "RS256 header naming an EC key",
        lambda i: unsigned_token({"alg": "RS256", "kid": "ec-1"}, i.claims(), b"x" * 256),
        auth.KeyMismatchError,
    ),
    (
        "ES256 header naming an RSA key",
        lambda i: unsigned_token({"alg": "ES256", "kid": "rsa-1"}, i.claims(), b"x" * 64),
        auth.KeyMismatchError,
    ),
]


def _forged(issuer: FakeIssuer) -> str:
    # An attacker's own key, published nowhere, with the kid of a real one.
    impostor = FakeIssuer(issuer.url)
    impostor.add_key("ES256", kid="ec-1")
    return impostor.token("ec-1", sub="admin")


def _tampered(issuer: FakeIssuer) -> str:
    head, _, signature = issuer.token("ec-1").split(".")
    body = unsigned_token({}, issuer.claims(sub="admin")).split(".")[1]
    return f"{head}.{body}.{signature}"


@pytest.mark.parametrize(
    ("make", "error"), [(m, e) for _, m, e in NEGATIVE_CASES], ids=[n for n, _, _ in NEGATIVE_CASES]
)
def test_a_bad_token_is_refused_with_the_reason(issuer: FakeIssuer, make: Any, error: type[auth.AuthError]) -> None:
    with pytest.raises(error):
        make_verifier(issuer).verify(make(issuer))


def test_an_id_token_is_refused_where_only_access_tokens_are_accepted(issuer: FakeIssuer) -> None:
    token = issuer.token("ec-1", token_use="id")

    with pytest.raises(auth.TokenUseMismatchError):
        make_verifier(issuer, token_uses=frozenset({"access"})).verify(token)


def test_a_token_without_token_use_is_refused_when_token_use_is_checked(issuer: FakeIssuer) -> None:
    with pytest.raises(auth.TokenUseMismatchError):
        make_verifier(issuer, token_uses=frozenset({"access", "id"})).verify(issuer.token("ec-1"))


def test_a_jwk_declaring_another_alg_cannot_verify(jwks_server: JwksServer) -> None:
    fake = FakeIssuer(jwks_server.url)
    fake.add_key("RS256", kid="k")
    jwks_server.serve_json(JWKS_PATH, lambda: {"keys": [{**fake.jwks()["keys"][0], "alg": "RS512"}]})

    with pytest.raises(auth.KeyMismatchError):
        make_verifier(fake).verify(fake.token("k"))


def test_error_messages_never_carry_the_token(issuer: FakeIssuer) -> None:
    token = issuer.token("ec-1", aud="another-client", exp=_now() - 3600)
    verifier = make_verifier(issuer)

    with pytest.raises(auth.AuthError) as refused:
        verifier.verify(token)

    assert token not in str(refused.value)
    assert token.split(".")[1] not in str(refused.value)


def test_overlong_profile_claims_are_dropped_not_passed_on(issuer: FakeIssuer) -> None:
    identity = make_verifier(issuer).verify(issuer.token("ec-1", email="e" * 300 + "@example.com"))

    assert identity.email is None
    assert identity.user_id == "user-1"
