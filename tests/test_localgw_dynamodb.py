"""localgw's DynamoDB: moto behind one keep-alive server thread, requests applied one at a time."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest

from localgw import moto_server
from localgw.dynamodb import LocalDynamoDB

TABLE = "localgw-dynamodb-test"


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[LocalDynamoDB]:
    local = LocalDynamoDB(region="us-east-1")
    local.start()
    local.create_table(TABLE)
    yield local
    local.stop()


def target(operation: str) -> dict[str, str]:
    return {
        "X-Amz-Target": f"DynamoDB_20120810.{operation}",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/dynamodb/aws4_request, Signature=x",
    }


def test_one_connection_serves_many_requests(dynamodb):
    # werkzeug's server (moto's own) closed every connection: a TCP connection and a thread per request.
    assert dynamodb.url is not None
    connection = http.client.HTTPConnection(dynamodb.url.removeprefix("http://"), timeout=5)
    body = json.dumps({"TableName": TABLE, "Key": {"pk": {"S": "none"}, "sk": {"S": "none"}}})
    for _ in range(3):
        connection.request("POST", "/", body, target("GetItem"))
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read()) == {}
        assert response.getheader("Connection") != "close"
    connection.close()


def test_boto3_errors_keep_their_type(dynamodb):
    client = dynamodb.client()
    client.put_item(TableName=TABLE, Item={"pk": {"S": "once"}, "sk": {"S": "x"}})
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(
            TableName=TABLE,
            Item={"pk": {"S": "once"}, "sk": {"S": "x"}},
            ConditionExpression="attribute_not_exists(pk)",
        )


def test_concurrent_conditional_writes_apply_one_at_a_time(dynamodb):
    client = dynamodb.client()
    key = {"pk": {"S": "counter"}, "sk": {"S": "x"}}
    client.put_item(TableName=TABLE, Item={**key, "n": {"N": "0"}})
    failures: list[BaseException] = []

    def bump() -> None:
        for _ in range(10):
            while True:  # optimistic locking: read, then write only if nobody wrote in between
                n = int(client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]["n"]["N"])
                try:
                    client.put_item(
                        TableName=TABLE,
                        Item={**key, "n": {"N": str(n + 1)}},
                        ConditionExpression="n = :n",
                        ExpressionAttributeValues={":n": {"N": str(n)}},
                    )
                    break
                except client.exceptions.ConditionalCheckFailedException:
                    continue
                except BaseException as exc:
                    failures.append(exc)
                    return

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    assert client.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]["n"]["N"] == "80"


def test_a_crash_inside_moto_is_a_500_not_a_dead_server(dynamodb, caplog):
    def crash(environ, start_response):
        raise RuntimeError("moto bug")

    environ = {"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem"}
    response = moto_server.call_wsgi(crash, environ)
    assert response.status == 500
    assert "moto failed" in caplog.text
    # and the real server still answers
    assert dynamodb.client().describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE
