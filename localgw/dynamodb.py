"""DynamoDB for local runs: moto's server on 127.0.0.1, holding the relay's one table (lambdas/table_schema.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import boto3

from lambdas import table_schema
from localgw import moto_patches
from localgw.background import BackgroundServer
from localgw.environment import DUMMY_CREDENTIALS, local_client
from localgw.moto_server import TTL_SWEEP_SECONDS, RequestTap, moto_dynamodb_app

T = TypeVar("T")


class LocalDynamoDB:
    """moto's DynamoDB in an in-process server (localgw.moto_server: one thread, keep-alive), with the relay's table
    created in it."""

    def __init__(
        self, *, port: int = 0, region: str, latency_ms: float = 0.0, ttl_sweep_seconds: float = TTL_SWEEP_SECONDS
    ) -> None:
        self._port = port
        self._ttl_sweep_seconds = ttl_sweep_seconds
        self.tap = RequestTap(latency_ms)
        """`tap.latency_ms` is added to every request (changeable while running); `tap.counts` counts them."""
        self._region = region
        self._server: BackgroundServer | None = None
        self.url: str | None = None

    def start(self) -> str:
        # No handler cancellation: a request moto has begun is applied whole, as DynamoDB applies it.
        self._server = BackgroundServer(
            moto_dynamodb_app(self.tap, ttl_sweep_seconds=self._ttl_sweep_seconds),
            "127.0.0.1",
            self._port,
            name="localgw-dynamodb",
            handler_cancellation=False,
        ).start()
        self.url = self._server.url
        return self.url

    def create_table(self, table_name: str) -> None:
        """Create the relay's table with TTL on. moto keeps its data per Python process, not per server, so a second
        gateway in the same process (tests) finds the table already there and shares it."""
        ensure_table(self.client(), table_name)

    @staticmethod
    def _create(client: Any, table_name: str) -> None:
        """The relay's table on `client` (tests/integration's moto fixture builds it so)."""
        ensure_table(client, table_name)

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` on the server's thread, between two requests: the only safe place to touch moto's tables
        directly (tests seed them so)."""
        if self._server is None:
            raise RuntimeError("LocalDynamoDB is not started")
        return self._server.call(function)

    def sweep_expired(self) -> int:
        """Delete the items past their TTL now rather than at the next periodic sweep; returns how many."""
        return self.call(moto_patches.sweep_expired)

    def client(self) -> Any:
        """A boto3 DynamoDB client for this server (tests use it to look inside the table)."""
        if self.url is None:
            raise RuntimeError("LocalDynamoDB is not started")
        return local_client("dynamodb", self.url, self._region)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def ensure_table(client: Any, table_name: str) -> bool:
    """Create the relay's table (keys and index from lambdas/table_schema.py, as the stack defines it) with TTL on,
    unless it exists; True when it was created. Waits until the table is ACTIVE (a real DynamoDB takes seconds)."""
    try:
        client.create_table(
            TableName=table_name,
            KeySchema=[
                {"AttributeName": table_schema.PARTITION_KEY, "KeyType": "HASH"},
                {"AttributeName": table_schema.SORT_KEY, "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"}
                for name in (
                    table_schema.PARTITION_KEY,
                    table_schema.SORT_KEY,
                    table_schema.OWNER_INDEX_PARTITION_KEY,
                    table_schema.OWNER_INDEX_SORT_KEY,
                )
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": table_schema.OWNER_INDEX,
                    "KeySchema": [
                        {"AttributeName": table_schema.OWNER_INDEX_PARTITION_KEY, "KeyType": "HASH"},
                        {"AttributeName": table_schema.OWNER_INDEX_SORT_KEY, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    except client.exceptions.ResourceInUseException:
        return False
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": table_schema.TTL_ATTRIBUTE},
    )
    return True


def external_client(endpoint: str, region: str, current: Mapping[str, str]) -> Any:
    """A DynamoDB client for `--dynamodb-endpoint`: the caller's credentials when there are any (a real table),
    else the dummy ones DynamoDB Local accepts."""
    credentials = {} if current.get("AWS_ACCESS_KEY_ID") or current.get("AWS_PROFILE") else DUMMY_CREDENTIALS
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=credentials.get("AWS_SECRET_ACCESS_KEY"),
    )
