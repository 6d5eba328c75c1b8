"""What the handlers run with: the deployed functions' environment, local endpoints, moto DynamoDB, upstream."""

from __future__ import annotations

import json
import os
import urllib.request

import boto3
import pytest

from lambdas import env_vars
from localgw.environment import EnvironmentPatch, handler_environment, resolve_region
from localgw.options import GatewayOptions
from stacks.config import load_config
from tests.conftest import RECV_TIMEOUT, Recorder

GATEWAY_URL = "http://127.0.0.1:8080"
DDB_URL = "http://127.0.0.1:5555"


def _environment(current: dict[str, str], **options) -> dict[str, str]:
    return handler_environment(
        config=load_config(),
        options=GatewayOptions(**options),
        region="us-east-1",
        table_name="WsRelay-local",
        gateway_url=GATEWAY_URL,
        stage="dev",
        dynamodb_url=DDB_URL,
        current=current,
    )


def test_handlers_get_the_deployed_environment_plus_local_endpoints() -> None:
    env = _environment({})
    deployed = load_config().function_environment("WsRelay-local")
    # localgw's own values: quiet logs, and the local model catalogue (tests/e2e/lambdas/test_models.py covers it).
    overridden = ("POWERTOOLS_LOG_LEVEL", "RELAY_MODELS")
    assert {key: env[key] for key in deployed if key not in overridden} == {
        key: value for key, value in deployed.items() if key not in overridden
    }
    assert env[env_vars.CONNECTIONS_ENDPOINT] == f"{GATEWAY_URL}/dev"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == DDB_URL
    assert env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == GATEWAY_URL
    assert env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == GATEWAY_URL
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "127.0.0.1" in env["NO_PROXY"].split(",")


def test_handler_logs_are_quiet_and_metrics_off_by_default() -> None:
    env = _environment({})
    assert env["POWERTOOLS_LOG_LEVEL"] == "WARNING"
    assert env["POWERTOOLS_METRICS_DISABLED"] == "true"
    assert _environment({}, handler_log_level="DEBUG")["POWERTOOLS_LOG_LEVEL"] == "DEBUG"


def test_dummy_credentials_only_when_there_are_none() -> None:
    assert _environment({})["AWS_ACCESS_KEY_ID"] == "localgw"
    assert "AWS_ACCESS_KEY_ID" not in _environment({"AWS_ACCESS_KEY_ID": "AKIAREAL"})


def test_bedrock_upstream_keeps_the_users_credentials_and_the_real_endpoint() -> None:
    env = _environment({}, upstream="bedrock")
    assert "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" not in env
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == DDB_URL  # the table stays local


def test_existing_no_proxy_is_kept() -> None:
    assert _environment({"NO_PROXY": "corp.example"})["NO_PROXY"].startswith("corp.example,")


def test_region_resolution() -> None:
    assert resolve_region("eu-west-1", {"AWS_REGION": "us-west-2"}) == "eu-west-1"
    assert resolve_region(None, {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}) == "us-west-2"
    assert resolve_region(None, {"AWS_DEFAULT_REGION": "ap-south-1"}) == "ap-south-1"
    assert resolve_region(None, {}) == "us-east-1"


def test_environment_patch_restores_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALGW_TEST_KEPT", "before")
    monkeypatch.delenv("LOCALGW_TEST_ADDED", raising=False)
    patch = EnvironmentPatch({"LOCALGW_TEST_KEPT": "during", "LOCALGW_TEST_ADDED": "during"})
    patch.apply()
    assert os.environ["LOCALGW_TEST_KEPT"] == os.environ["LOCALGW_TEST_ADDED"] == "during"
    patch.restore()
    assert os.environ["LOCALGW_TEST_KEPT"] == "before"
    assert "LOCALGW_TEST_ADDED" not in os.environ


def test_handlers_reach_moto_dynamodb_and_connections_through_the_environment(
    gateway_for, ws_connect, recorder: Recorder
) -> None:
    # GIVEN a handler written like the real ones: plain boto3 clients, endpoints and table from the environment
    def store_and_echo(event, context):
        connection_id = event["requestContext"]["connectionId"]
        table = os.environ[env_vars.TABLE_NAME]
        boto3.client("dynamodb").put_item(
            TableName=table, Item={"pk": {"S": f"conn#{connection_id}"}, "sk": {"S": "meta"}, "ttl": {"N": "1"}}
        )
        boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ[env_vars.CONNECTIONS_ENDPOINT]
        ).post_to_connection(ConnectionId=connection_id, Data=b"stored")

    handle = gateway_for({"$connect": recorder.handler(), "$default": store_and_echo}, dynamodb=True)
    ws = ws_connect(handle.ws_url)
    ws.send("store me")
    assert ws.recv(timeout=RECV_TIMEOUT) == "stored"

    # THEN the item is in moto's table, which has the relay's key schema and TTL
    connection_id = recorder.wait_for("$connect")[0]["requestContext"]["connectionId"]
    dynamodb = handle.gateway.dynamodb.client()
    table = handle.gateway.table_name
    assert table == "WsRelay-local"
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"conn#{connection_id}"}, "sk": {"S": "meta"}})
    assert "Item" in item
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")


def test_environment_is_restored_when_the_gateway_stops(start_gateway) -> None:
    before = os.environ.get(env_vars.CONNECTIONS_ENDPOINT)
    handle = start_gateway(routes=())
    assert os.environ[env_vars.CONNECTIONS_ENDPOINT] == handle.connections_url
    handle.stop()
    assert os.environ.get(env_vars.CONNECTIONS_ENDPOINT) == before


def test_simulated_upstream_is_mounted_on_the_same_port(start_gateway) -> None:
    pytest.importorskip("localgw.simulator")
    handle = start_gateway(routes=(), mount_simulator=True)
    assert handle.gateway.simulator_mounted
    with urllib.request.urlopen(f"{handle.url}/_sim/requests", timeout=RECV_TIMEOUT) as answer:
        assert "requests" in json.loads(answer.read())
