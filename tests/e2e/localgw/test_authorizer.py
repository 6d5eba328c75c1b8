"""The `$connect` REQUEST authorizer: identity sources, policies (IAM wildcards), context, failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    parse_api_gateway_arn,
)
from websockets.exceptions import InvalidStatus

from lambdas.routes import Authorizer
from localgw.authorization import AuthorizerResultError, decide, missing_identity
from localgw.policy import PolicyError, is_allowed
from tests.conftest import Recorder

CONNECT_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/$connect"


def _policy(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Action": action, "Effect": effect, "Resource": resource}]}


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        (CONNECT_ARN, True),
        ("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*", True),
        ("arn:aws:execute-api:*:*:abcdef1234/dev/$connect", True),
        ("*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/$conn?ct", True),
        ([CONNECT_ARN.replace("/dev/", "/prod/"), CONNECT_ARN], True),
        # Powertools' allow_all_routes() (issue #5800): /stage/*/* needs a second slash that $connect lacks.
        ("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*", False),
        (CONNECT_ARN.replace("/dev/", "/prod/"), False),
        (CONNECT_ARN.replace("$connect", "$CONNECT"), False),
    ],
    ids=[
        "exact",
        "stage-wildcard",
        "api-wildcard",
        "region-account-wildcards",
        "star",
        "question-mark",
        "list",
        "allow-all-routes-trap",
        "other-stage",
        "case-sensitive-arn",
    ],
)
def test_allow_resource_matching(resource: Any, allowed: bool) -> None:
    assert is_allowed(_policy("Allow", resource), CONNECT_ARN) is allowed


def test_deny_wins_over_allow() -> None:
    policy = _policy("Allow", "*")
    policy["Statement"].append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": CONNECT_ARN})
    assert is_allowed(policy, CONNECT_ARN) is False


@pytest.mark.parametrize(
    ("action", "allowed"),
    [("execute-api:*", True), ("*", True), ("execute-api:invoke", True), ("execute-api:ManageConnections", False)],
)
def test_action_matching(action: str, allowed: bool) -> None:
    assert is_allowed(_policy("Allow", "*", action), CONNECT_ARN) is allowed


def test_single_statement_object_is_accepted() -> None:
    assert is_allowed({"Statement": _policy("Allow", "*")["Statement"][0]}, CONNECT_ARN)


@pytest.mark.parametrize(
    "statement",
    [None, [{"Effect": "Maybe", "Action": "*", "Resource": "*"}], [{"Effect": "Allow", "Action": "*", "Resource": 3}]],
)
def test_malformed_policies_are_errors(statement: Any) -> None:
    with pytest.raises(PolicyError):
        is_allowed({"Statement": statement}, CONNECT_ARN)


def test_context_values_are_stringified() -> None:
    decision = decide(
        {"principalId": 42, "policyDocument": _policy("Allow", "*"), "context": {"n": 3, "ok": True, "s": "x"}},
        CONNECT_ARN,
    )
    assert decision.allowed
    assert decision.authorizer_context == {"principalId": "42", "n": "3", "ok": "true", "s": "x"}


@pytest.mark.parametrize(
    "result",
    [
        None,
        {"policyDocument": _policy("Allow", "*")},
        {"principalId": "u"},
        {"principalId": "u", "policyDocument": _policy("Allow", "*"), "context": {"nested": {"a": 1}}},
        {"principalId": "u", "policyDocument": _policy("Allow", "*"), "context": {"big": "x" * 9000}},
    ],
    ids=["not-an-object", "no-principal", "no-policy", "nested-context", "over-8kb"],
)
def test_unusable_answers_are_errors(result: Any) -> None:
    with pytest.raises(AuthorizerResultError):
        decide(result, CONNECT_ARN)


def test_missing_identity() -> None:
    sources = ("route.request.querystring.token", "route.request.header.Authorization")
    assert missing_identity(sources, {"Authorization": "x"}, {}) == "route.request.querystring.token"
    assert missing_identity(sources, {"Authorization": "x"}, {"token": ""}) == "route.request.querystring.token"
    assert missing_identity(sources, {}, {"token": "t"}) == "route.request.header.Authorization"
    assert missing_identity(sources, {"Authorization": "x"}, {"token": "t"}) is None


# Through the gateway.

TOKEN_SOURCE = ("route.request.querystring.token",)


@pytest.fixture
def authorized(gateway_for, recorder: Recorder):
    """`authorized(authorizer_handler, identity_sources=...)`: a recording gateway behind a REQUEST authorizer."""

    def start(handler, identity_sources: tuple[str, ...] = TOKEN_SOURCE):
        return gateway_for(
            {"$connect": recorder.handler(), "$default": recorder.handler(), "$disconnect": recorder.handler()},
            authorizer=Authorizer("Authorizer", "inline:authorizer", identity_sources),
            authorizer_handler=handler,
        )

    return start


def _status(ws_connect, url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, **kwargs)
    return refused.value.response.status_code


def _allow_connect(principal: str = "user-1", **context: Any):
    def authorizer(event, context_):
        return {"principalId": principal, "policyDocument": _policy("Allow", event["methodArn"]), "context": context}

    return authorizer


def test_missing_or_empty_identity_is_401_without_calling_the_authorizer(authorized, ws_connect) -> None:
    calls: list[dict[str, Any]] = []
    handle = authorized(lambda event, context: calls.append(event))
    assert _status(ws_connect, handle.ws_url) == 401
    assert _status(ws_connect, handle.ws_url, query="token=") == 401
    assert _status(ws_connect, handle.ws_url, query="other=1") == 401
    assert calls == []


def test_header_identity_source(authorized, ws_connect, recorder: Recorder) -> None:
    handle = authorized(_allow_connect(), identity_sources=("route.request.header.Authorization",))
    assert _status(ws_connect, handle.ws_url) == 401
    ws_connect(handle.ws_url, headers={"authorization": "Bearer t"})  # header names are case-insensitive
    assert recorder.wait_for("$connect")[0]["requestContext"]["authorizer"]["principalId"] == "user-1"


def test_deny_is_403(authorized, ws_connect, recorder: Recorder) -> None:
    handle = authorized(lambda event, context: {"principalId": "u", "policyDocument": _policy("Deny", "*")})
    assert _status(ws_connect, handle.ws_url, query="token=t") == 403
    assert recorder.of("$connect") == []


def test_allow_all_routes_style_policy_is_403(authorized, ws_connect) -> None:
    def allow_all_routes(event, context):
        arn = event["methodArn"].rsplit("/", 1)[0]  # .../dev
        return {"principalId": "u", "policyDocument": _policy("Allow", f"{arn}/*/*")}

    handle = authorized(allow_all_routes)
    assert _status(ws_connect, handle.ws_url, query="token=t") == 403


def test_crashing_authorizer_is_500(authorized, ws_connect, caplog) -> None:
    def crash(event, context):
        raise KeyError("jwks")

    handle = authorized(crash)
    with caplog.at_level(logging.INFO, logger="localgw"):
        assert _status(ws_connect, handle.ws_url, query="token=t") == 500
    assert any("KeyError: 'jwks'" in record.getMessage() for record in caplog.records)


def test_unusable_answer_is_500(authorized, ws_connect) -> None:
    handle = authorized(lambda event, context: {"principalId": "u"})
    assert _status(ws_connect, handle.ws_url, query="token=t") == 500


def test_allow_passes_context_to_every_later_event(authorized, ws_connect, recorder: Recorder) -> None:
    handle = authorized(_allow_connect("user-1", tier="gold", quota=3, admin=False))
    ws = ws_connect(handle.ws_url, query="token=t")
    ws.send("hello")
    recorder.wait_for("$default")
    ws.close()
    recorder.wait_for("$disconnect")

    expected = {"principalId": "user-1", "tier": "gold", "quota": "3", "admin": "false"}
    for route_key in ("$connect", "$default", "$disconnect"):
        assert recorder.of(route_key)[0]["requestContext"]["authorizer"] == expected, route_key


def test_authorizer_event(authorized, ws_connect) -> None:
    seen: list[dict[str, Any]] = []

    def authorizer(event, context):
        seen.append(event)
        return _allow_connect()(event, context)

    handle = authorized(authorizer)
    ws_connect(handle.ws_url, query="token=t&x=1", headers={"Authorization": "Leo"})

    event = APIGatewayAuthorizerRequestEvent(seen[0])
    assert event.get_type == "REQUEST"
    arn = parse_api_gateway_arn(event.method_arn, is_websocket_authorizer=True)
    assert (arn.region, arn.aws_account_id, arn.api_id) == (handle.region, "123456789012", handle.gateway.api_id)
    assert (arn.stage, arn.resource) == ("dev", "$connect")
    assert event.query_string_parameters == {"token": "t", "x": "1"}
    assert event.headers["Authorization"] == "Leo"
    assert seen[0]["stageVariables"] == {}
    assert seen[0]["requestContext"]["routeKey"] == "$connect"
    assert seen[0]["requestContext"]["eventType"] == "CONNECT"
    assert "authorizer" not in seen[0]["requestContext"]
