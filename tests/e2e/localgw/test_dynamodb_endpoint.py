"""`--dynamodb-endpoint URL`: the handlers use another DynamoDB (DynamoDB Local, or a real one) instead of the embedded
moto, and localgw creates the relay's table there when it is missing. A moto server in a process of its own stands
in for DynamoDB Local: it shares nothing with the moto inside this test process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from lambdas import table_schema
from localgw import GatewayHandle
from localgw.cli import parse_options
from tests.e2e.client import answer_text, ask, expected_reply


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def dynamodb_local() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the stand-in DynamoDB did not start"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def client_for(url: str) -> Any:
    return boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


@pytest.fixture
def gateway_on(start_gateway: Callable[..., GatewayHandle]) -> Callable[[str], GatewayHandle]:
    def start(url: str) -> GatewayHandle:
        return start_gateway(
            dynamodb_endpoint=url, mount_simulator=True, dev_issuer=True, authorizer=parse_options([], {}).authorizer
        )

    return start


def test_the_table_is_created_there_and_answers_are_stored_there(
    dynamodb_local: str, gateway_on: Callable[[str], GatewayHandle], ws_connect: Callable[..., Any]
) -> None:
    external = client_for(dynamodb_local)
    assert external.list_tables()["TableNames"] == []

    handle = gateway_on(dynamodb_local)

    # THEN the relay's table exists there, with the stack's keys and index
    (name,) = external.list_tables()["TableNames"]
    table = external.describe_table(TableName=name)["Table"]
    assert [key["AttributeName"] for key in table["KeySchema"]] == [table_schema.PARTITION_KEY, table_schema.SORT_KEY]
    assert [index["IndexName"] for index in table["GlobalSecondaryIndexes"]] == [table_schema.OWNER_INDEX]
    assert handle.gateway.dynamodb is None  # no moto of its own
    # AND an answer through the gateway is written there
    ws = ws_connect(handle.ws_url, query=f"token={handle.dev_issuer.mint('alice')}")
    text = "stored elsewhere [[sim tokens=12]]"
    frames = ask(ws, text, requestId="ext-1")
    assert frames[-1]["type"] == "done" and answer_text(frames) == expected_reply(text).text
    items = external.scan(TableName=name)["Items"]
    assert any("ext-1" in str(item) for item in items)


def test_an_existing_table_is_used_as_it_is(dynamodb_local: str, gateway_on: Callable[[str], GatewayHandle]) -> None:
    external = client_for(dynamodb_local)
    handle = gateway_on(dynamodb_local)  # created here, or by the test before: either way it exists now
    name = handle.gateway.table_name
    external.put_item(
        TableName=name, Item={table_schema.PARTITION_KEY: {"S": "keep"}, table_schema.SORT_KEY: {"S": "me"}}
    )

    gateway_on(dynamodb_local)  # a second start finds the table and leaves its items alone

    key = {table_schema.PARTITION_KEY: {"S": "keep"}, table_schema.SORT_KEY: {"S": "me"}}
    assert "Item" in external.get_item(TableName=name, Key=key)


def test_the_flag_and_its_variable_set_the_option() -> None:
    assert (
        parse_options(["--dynamodb-endpoint", "http://127.0.0.1:8000"], {}).dynamodb_endpoint == "http://127.0.0.1:8000"
    )
    assert parse_options([], {"LOCALGW_DYNAMODB_ENDPOINT": "http://h:1"}).dynamodb_endpoint == "http://h:1"
    assert parse_options([], {}).dynamodb_endpoint is None
    with pytest.raises(SystemExit, match="dynamodb_endpoint"):
        parse_options(["--dynamodb-endpoint", "localhost:8000"], {})
