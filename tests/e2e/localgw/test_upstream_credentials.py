"""`--upstream bedrock` and AWS credentials: localgw refuses to start without any and says what to set; the embedded
table never needs them (the handlers' DynamoDB client signs local endpoints with placeholder keys)."""

from __future__ import annotations

import pytest

from localgw import GatewayOptions, run_in_thread
from localgw.cli import bedrock_credentials_problem, main

CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
)


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A machine without AWS credentials: none in the environment, no config files, no instance metadata."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_bedrock_upstream_without_credentials_exits_saying_what_to_set(no_aws_credentials, capsys) -> None:
    assert main(["--upstream", "bedrock", "--port", "0"]) == 2
    message = capsys.readouterr().err
    assert "no AWS credentials were found" in message
    assert "AWS_PROFILE" in message and "AWS_ACCESS_KEY_ID" in message and "AWS_SECRET_ACCESS_KEY" in message


def test_credentials_in_the_environment_are_enough(no_aws_credentials, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert bedrock_credentials_problem("us-east-1") is None


def test_a_profile_that_does_not_exist_is_named(no_aws_credentials, monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "nowhere")
    problem = bedrock_credentials_problem("us-east-1")
    assert problem is not None and "could not be loaded" in problem and "nowhere" in problem


def test_the_table_needs_no_credentials_with_the_bedrock_upstream(no_aws_credentials) -> None:
    # $connect and $disconnect write the table; without credentials botocore refused to sign (NoCredentialsError).
    from websockets.sync.client import connect

    handle = run_in_thread(GatewayOptions(port=0, upstream="bedrock"))
    try:
        assert handle.gateway.dynamodb is not None and handle.dev_issuer is not None
        token = handle.dev_issuer.mint("no-credentials")
        with connect(f"{handle.ws_url}?token={token}", open_timeout=10) as ws:
            connection_id = handle.call(lambda: next(iter(handle.gateway.registry)).connection_id)
            stored = handle.gateway.dynamodb.client().get_item(
                TableName=handle.gateway.table_name,
                Key={"pk": {"S": f"CONN#{connection_id}"}, "sk": {"S": "META"}},
                ConsistentRead=True,
            )
            assert "Item" in stored
            ws.close()
        assert sum(handle.stats.invocations().values()) >= 1
    finally:
        handle.stop()
