"""How `make smoke` finds a deployed stack and a token, against moto's CloudFormation and Cognito: the stack's outputs
give the URL and the user pool, a temporary user signs in with USER_PASSWORD_AUTH (as the stack's app client allows),
and that user is gone afterwards, whatever happened in between."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from smoke.target import TargetError, resolve

URL = "wss://abc123.execute-api.us-east-1.amazonaws.com/prod"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


HTTP_URL = "https://def456.execute-api.us-east-1.amazonaws.com/prod/v1"


def deploy(session: boto3.Session, name: str = "WsRelay", cognito: bool = True) -> tuple[str, str]:
    """A stack with the relay's outputs (and, with `cognito`, a real moto user pool and app client behind them)."""
    outputs: dict[str, Any] = {"WebSocketUrl": {"Value": URL}, "OpenAiBaseUrl": {"Value": HTTP_URL}}
    pool = client = ""
    if cognito:
        idp = session.client("cognito-idp")
        pool = idp.create_user_pool(PoolName="relay")["UserPool"]["Id"]
        client = idp.create_user_pool_client(
            UserPoolId=pool, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"]
        )["UserPoolClient"]["ClientId"]
        outputs.update(UserPoolId={"Value": pool}, UserPoolClientId={"Value": client})
    template = {"Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    session.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return pool, client


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def users(session: boto3.Session, pool: str) -> list[str]:
    return [user["Username"] for user in session.client("cognito-idp").list_users(UserPoolId=pool)["Users"]]


def test_a_temporary_user_signs_in_for_the_checks_and_is_deleted_after(aws: boto3.Session) -> None:
    pool, client = deploy(aws)

    with resolve(None, None, "WsRelay", session=aws) as target:
        # THEN the URLs are the stack's, and the token is an access token of a user that exists right now
        assert target.url == URL and target.http_url == HTTP_URL
        assert target.token is not None
        token = claims(target.token)
        assert token["token_use"] == "access" and token["client_id"] == client
        assert users(aws, pool) == [token["username"]] and token["username"].startswith("relay-smoke-")
        assert "deleted afterwards" in target.how

    assert users(aws, pool) == []


def test_the_user_is_deleted_even_when_the_checks_blow_up(aws: boto3.Session) -> None:
    pool, _ = deploy(aws)

    with pytest.raises(RuntimeError, match="boom"), resolve(None, None, "WsRelay", session=aws):
        raise RuntimeError("boom")

    assert users(aws, pool) == []


def test_a_given_token_creates_no_user(aws: boto3.Session) -> None:
    pool, _ = deploy(aws)

    with resolve(None, "eyJ.given.token", "WsRelay", session=aws) as target:
        assert target.token == "eyJ.given.token" and users(aws, pool) == []


def test_a_missing_stack_says_what_to_pass_instead(aws: boto3.Session) -> None:
    with pytest.raises(TargetError, match="URL=wss://"), resolve(None, None, "NoSuchStack", session=aws):
        pass


def test_a_stack_with_an_external_issuer_needs_a_token(aws: boto3.Session) -> None:
    deploy(aws, cognito=False)

    with pytest.raises(TargetError, match="TOKEN"), resolve(None, None, "WsRelay", session=aws):
        pass


def test_localgw_s_http_api_sits_under_its_stage() -> None:
    with resolve("ws://127.0.0.1:9/dev", "t", "unused") as target:
        assert target.http_url == "http://127.0.0.1:9/dev/v1"
    with resolve(URL, "t", "unused") as target:
        assert target.http_url is None  # a deployed URL alone says nothing of an HTTP API
