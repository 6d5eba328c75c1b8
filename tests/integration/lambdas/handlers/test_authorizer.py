"""The `$connect` REQUEST authorizer as API Gateway calls it: what a client with a good token, a bad token or no
token gets, and what the operator sees in the logs. Answers are read by localgw's own policy evaluation, which
reproduces API Gateway's (including the `/stage/*/*` trap of Powertools issue #5800)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from lambdas import auth, env_vars
from lambdas.handlers import authorizer
from localgw.authorization import decide
from tests.auth_fakes import (
    JWKS_PATH,
    METHOD_ARN,
    FakeContext,
    FakeIssuer,
    JwksServer,
    LogCapture,
    authorizer_event,
    capture_logs,
    issuer_in_environment,
)


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    return authorizer.handler(event, FakeContext())


@pytest.fixture
def issuer(jwks_running: JwksServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIssuer]:
    with issuer_in_environment(jwks_running, monkeypatch, "RS256", kid="rsa-1") as fake:
        yield fake


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    yield from capture_logs()


def test_a_valid_token_in_the_query_allows_exactly_this_connect(issuer: FakeIssuer) -> None:
    token = issuer.token("rsa-1")

    answer = authorize(authorizer_event(query={"token": token}))

    assert answer["principalId"] == "user-1"
    assert answer["policyDocument"]["Statement"] == [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}
    ]
    assert answer["context"] == {
        "userId": "user-1",
        "username": "user1",
        "email": "user1@example.com",
        "tokenExpiresAt": str(jwt.decode(token, options={"verify_signature": False})["exp"]),
    }
    decision = decide(answer, METHOD_ARN)
    assert (decision.allowed, decision.status) == (True, 200)
    assert decision.authorizer_context is not None
    assert decision.authorizer_context["userId"] == "user-1"


def test_the_allow_keeps_the_partition_of_the_method_arn(issuer: FakeIssuer) -> None:
    # Powertools' APIGatewayAuthorizerResponseWebSocket would write `arn:aws:` here and lock out China/GovCloud.
    china_arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:abcdef123/prod/$connect"

    answer = authorize(authorizer_event(query={"token": issuer.token("rsa-1")}, method_arn=china_arn))

    assert decide(answer, china_arn).allowed


@pytest.mark.parametrize(
    ("name", "value"),
    [("Authorization", "Bearer {t}"), ("authorization", "bearer {t}"), ("AUTHORIZATION", "  BEARER   {t} ")],
    ids=["canonical", "lower-case", "upper-case with spaces"],
)
def test_a_bearer_header_is_accepted_for_clients_that_can_set_headers(
    issuer: FakeIssuer, name: str, value: str
) -> None:
    token = issuer.token("rsa-1", sub="header-user")

    answer = authorize(authorizer_event(headers={name: value.format(t=token)}))

    assert decide(answer, METHOD_ARN).allowed
    assert answer["principalId"] == "header-user"


def test_the_query_token_wins_over_the_header(issuer: FakeIssuer) -> None:
    event = authorizer_event(
        query={"token": issuer.token("rsa-1", sub="from-query")},
        headers={"Authorization": f"Bearer {issuer.token('rsa-1', sub='from-header')}"},
    )

    assert authorize(event)["principalId"] == "from-query"


@pytest.mark.parametrize(
    "event",
    [
        authorizer_event(),
        authorizer_event(query={"token": ""}),
        authorizer_event(headers={"Authorization": "Basic dXNlcjpwYXNz"}),
        authorizer_event(headers={"Authorization": "Bearer"}),
        {**authorizer_event(), "queryStringParameters": None, "headers": None},
    ],
    ids=["nothing", "empty query token", "basic auth", "bearer without token", "null maps"],
)
def test_no_token_is_denied_with_403(issuer: FakeIssuer, logs: LogCapture, event: dict[str, Any]) -> None:
    answer = authorize(event)

    decision = decide(answer, METHOD_ARN)
    assert (decision.allowed, decision.status) == (False, 403)
    assert [line["reason"] for line in logs.lines if line["message"] == "connection denied"] == ["token_missing"]


def test_a_bad_token_is_denied_and_the_reason_logged_without_the_token(issuer: FakeIssuer, logs: LogCapture) -> None:
    token = issuer.token("rsa-1", aud="someone-else")

    answer = authorize(authorizer_event(query={"token": token}))

    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert answer["policyDocument"]["Statement"][0]["Resource"] == METHOD_ARN
    assert "context" not in answer
    assert decide(answer, METHOD_ARN).status == 403
    [denied] = [line for line in logs.lines if line["message"] == "connection denied"]
    assert (denied["level"], denied["reason"], denied["tokenSource"], denied["sourceIp"]) == (
        "INFO",
        "audience_mismatch",
        "query",
        "203.0.113.7",
    )
    assert token not in logs.text
    assert token.split(".")[2] not in logs.text


def test_an_unreachable_issuer_denies_and_alerts_the_operator(
    issuer: FakeIssuer, jwks_running: JwksServer, logs: LogCapture
) -> None:
    jwks_running.fail(JWKS_PATH, 503)

    answer = authorize(authorizer_event(query={"token": issuer.token("rsa-1")}))

    assert decide(answer, METHOD_ARN).status == 403
    [denied] = [line for line in logs.lines if line.get("reason") == "jwks_unavailable"]
    assert denied["level"] == "ERROR"
    assert denied["message"] == "connection denied: authentication is unavailable"


def test_a_missing_configuration_denies_everyone(
    issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    monkeypatch.delenv(env_vars.AUTH_AUDIENCE)
    auth.auth_settings.cache_clear()

    answer = authorize(authorizer_event(query={"token": issuer.token("rsa-1")}))

    assert decide(answer, METHOD_ARN).status == 403
    assert [line["reason"] for line in logs.lines if line["level"] == "ERROR"] == ["not_configured"]


def test_a_bug_in_verification_denies_instead_of_crashing(
    issuer: FakeIssuer, monkeypatch: pytest.MonkeyPatch, logs: LogCapture
) -> None:
    def broken(token: str | None) -> auth.Identity:
        raise RuntimeError("boom")

    monkeypatch.setattr(auth, "verify", broken)

    answer = authorize(authorizer_event(query={"token": issuer.token("rsa-1")}))

    assert decide(answer, METHOD_ARN).status == 403
    assert "authorizer failed" in logs.messages("ERROR")


def test_the_largest_possible_answer_fits_api_gateways_8_kb(issuer: FakeIssuer) -> None:
    token = issuer.token("rsa-1", sub="s" * 255, **{"cognito:username": "u" * 256}, email="e" * 256)

    answer = authorize(authorizer_event(query={"token": token}))

    assert len(json.dumps(answer).encode()) < 8 * 1024
    assert all(isinstance(value, str) for value in answer["context"].values())
    assert decide(answer, METHOD_ARN).allowed


def test_a_successful_authorization_logs_the_user_but_not_the_token(issuer: FakeIssuer, logs: LogCapture) -> None:
    token = issuer.token("rsa-1")

    authorize(authorizer_event(query={"token": token}))

    [line] = [line for line in logs.lines if line["message"] == "connection authorized"]
    assert line["userId"] == "user-1"
    assert token not in logs.text
