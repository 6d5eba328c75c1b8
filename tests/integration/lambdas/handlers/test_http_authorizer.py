"""The HTTP API's REQUEST authorizer as API Gateway (REST) calls it: the `$connect` verifier, with REST's answers —
Allow on exactly the method called, `Unauthorized` (401) for a refused token, a crash (500) when auth is down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lambdas import auth
from lambdas.handlers import http_authorizer
from tests.auth_fakes import FakeContext, FakeIssuer, JwksServer, issuer_in_environment

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/prod/POST/v1/chat/completions"


def rest_event(headers: dict[str, str]) -> dict[str, Any]:
    """A REST API REQUEST authorizer event (identity source: the Authorization header)."""
    return {
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/v1/chat/completions",
        "path": "/v1/chat/completions",
        "httpMethod": "POST",
        "headers": {"Host": "abcdef123.execute-api.eu-west-1.amazonaws.com", **headers},
        "queryStringParameters": {},
        "requestContext": {"stage": "prod", "identity": {"sourceIp": "203.0.113.7"}},
    }


@pytest.fixture
def issuer(jwks_running: JwksServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIssuer]:
    with issuer_in_environment(jwks_running, monkeypatch, "ES256", kid="ec-1") as fake:
        yield fake


def test_a_valid_bearer_token_allows_exactly_the_method_called(issuer: FakeIssuer) -> None:
    answer = http_authorizer.handler(rest_event({"Authorization": f"Bearer {issuer.token('ec-1')}"}), FakeContext())
    assert answer["principalId"] == "user-1"
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}
    ]
    assert answer["context"]["userId"] == "user-1"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no-header", "garbage", "wrong-scheme"],
)
def test_a_refused_token_is_unauthorized_which_rest_answers_401(issuer: FakeIssuer, headers) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        http_authorizer.handler(rest_event(headers), FakeContext())


def test_an_expired_token_is_unauthorized(issuer: FakeIssuer) -> None:
    token = issuer.token("ec-1", exp=1_000_000_000)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        http_authorizer.handler(rest_event({"Authorization": f"Bearer {token}"}), FakeContext())


def test_unreachable_keys_are_a_failure_not_a_401(issuer: FakeIssuer, jwks_running: JwksServer) -> None:
    jwks_running.reset()  # the issuer's JWKS now answers 404
    with pytest.raises(auth.JwksUnavailableError):
        http_authorizer.handler(rest_event({"Authorization": f"Bearer {issuer.token('ec-1')}"}), FakeContext())
