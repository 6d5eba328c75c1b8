"""localgw's DynamoDB: moto behind one keep-alive server thread, requests applied one at a time; the patched Query and
TransactWriteItems (localgw/moto_patches.py) answer as moto does, and items past their TTL are deleted."""

from __future__ import annotations

import http.client
import json
import threading
import time
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


def put(client, pk: str, sk: str, **attributes) -> None:
    client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": sk}, **attributes})


def test_a_query_reads_one_partition_in_sort_key_order_and_pages(dynamodb):
    client = dynamodb.client()
    for sk in ("TURN#00002#00", "META", "TURN#00001#00", "FRAMES#0001", "FRAMES#0000"):
        put(client, "CONV#paged", sk)
    put(client, "CONV#paged-other", "META")
    query = {
        "TableName": TABLE,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "CONV#paged"}},
        "ConsistentRead": True,
    }
    everything = [item["sk"]["S"] for item in client.query(**query)["Items"]]
    assert everything == ["FRAMES#0000", "FRAMES#0001", "META", "TURN#00001#00", "TURN#00002#00"]
    first = client.query(**query, Limit=2, ScanIndexForward=False)
    assert [item["sk"]["S"] for item in first["Items"]] == ["TURN#00002#00", "TURN#00001#00"]
    rest = client.query(**query, ScanIndexForward=False, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [item["sk"]["S"] for item in rest["Items"]] == ["META", "FRAMES#0001", "FRAMES#0000"]
    prefixed = client.query(
        **{
            **query,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :f)",
            "ExpressionAttributeValues": {":pk": {"S": "CONV#paged"}, ":f": {"S": "FRAMES#"}},
        }
    )
    assert [item["sk"]["S"] for item in prefixed["Items"]] == ["FRAMES#0000", "FRAMES#0001"]
    nothing = {**query, "ExpressionAttributeValues": {":pk": {"S": "CONV#none"}}}
    assert client.query(**nothing)["Items"] == []


def test_the_owner_index_lists_only_the_owners_indexed_items_newest_first(dynamodb):
    client = dynamodb.client()
    for name, stamp in (("a", "2026-01-01"), ("b", "2026-03-01"), ("c", "2026-02-01")):
        put(client, f"CONV#idx-{name}", "META", gsi1pk={"S": "USER#idx-owner"}, gsi1sk={"S": f"{stamp}#{name}"})
    put(client, "CONV#idx-unlisted", "META", gsi1pk={"S": "USER#idx-owner"})  # no sort key: not in the index
    put(client, "CONV#idx-other", "META", gsi1pk={"S": "USER#idx-owner-2"}, gsi1sk={"S": "2026-04-01#d"})
    query = {
        "TableName": TABLE,
        "IndexName": "byOwner",
        "KeyConditionExpression": "gsi1pk = :owner",
        "ExpressionAttributeValues": {":owner": {"S": "USER#idx-owner"}},
        "ScanIndexForward": False,
    }
    first = client.query(**query, Limit=2)
    assert [item["pk"]["S"] for item in first["Items"]] == ["CONV#idx-b", "CONV#idx-c"]
    rest = client.query(**query, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [item["pk"]["S"] for item in rest["Items"]] == ["CONV#idx-a"]


def test_a_cancelled_transaction_leaves_every_item_as_it_was(dynamodb):
    client = dynamodb.client()
    put(client, "TX#kept", "META", n={"N": "1"})
    put(client, "TX#doomed", "META", n={"N": "1"})
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "TX#new"}, "sk": {"S": "META"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "TX#kept"}, "sk": {"S": "META"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "TX#doomed"}, "sk": {"S": "META"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "TX#kept"}, "sk": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]

    def get(pk: str):
        return client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": "META"}}, ConsistentRead=True)

    assert "Item" not in get("TX#new")
    assert get("TX#kept")["Item"]["n"] == {"N": "1"}
    assert get("TX#doomed")["Item"]["n"] == {"N": "1"}

    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "TX#new"}, "sk": {"S": "META"}}}},
            {"Delete": {"TableName": TABLE, "Key": {"pk": {"S": "TX#doomed"}, "sk": {"S": "META"}}}},
        ]
    )
    assert "Item" in get("TX#new")
    assert "Item" not in get("TX#doomed")


def test_items_past_their_ttl_are_deleted_by_the_sweep(dynamodb):
    client = dynamodb.client()
    now = int(time.time())
    put(client, "TTL#past", "META", ttl={"N": str(now - 10)}, gsi1pk={"S": "USER#ttl"}, gsi1sk={"S": "x"})
    put(client, "TTL#future", "META", ttl={"N": str(now + 3600)})
    put(client, "TTL#none", "META")
    put(client, "TTL#string", "META", ttl={"S": str(now - 10)})
    put(client, "TTL#ancient", "META", ttl={"N": str(now - 6 * 365 * 24 * 3600)})  # DynamoDB ignores those
    assert dynamodb.sweep_expired() >= 1
    left = {
        pk
        for pk in ("TTL#past", "TTL#future", "TTL#none", "TTL#string", "TTL#ancient")
        if "Item" in client.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": "META"}})
    }
    assert left == {"TTL#future", "TTL#none", "TTL#string", "TTL#ancient"}
    listed = client.query(
        TableName=TABLE,
        IndexName="byOwner",
        KeyConditionExpression="gsi1pk = :o",
        ExpressionAttributeValues={":o": {"S": "USER#ttl"}},
    )
    assert listed["Items"] == []


def test_the_server_sweeps_expired_items_by_itself():
    local = LocalDynamoDB(region="us-east-1", ttl_sweep_seconds=0.05)
    local.start()
    try:
        local.create_table(TABLE)
        client = local.client()
        put(client, "TTL#periodic", "META", ttl={"N": str(int(time.time()) - 1)})
        key = {"pk": {"S": "TTL#periodic"}, "sk": {"S": "META"}}
        deadline = time.monotonic() + 5
        while "Item" in client.get_item(TableName=TABLE, Key=key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Item" not in client.get_item(TableName=TABLE, Key=key)
    finally:
        local.stop()
