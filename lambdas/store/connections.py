"""Connections: who is connected, since when, from where (`pk = CONN#{connectionId}`, `sk = META`)."""

from __future__ import annotations

import time
from typing import Any

from lambdas import clients
from lambdas.config import settings
from lambdas.table_schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE


def _connection_key(connection_id: str) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": f"CONN#{connection_id}"}, SORT_KEY: {"S": "META"}}


def put_connection(connection_id: str, connected_at_ms: int, source_ip: str, user_id: str | None = None) -> None:
    config = settings()
    item: dict[str, Any] = {
        **_connection_key(connection_id),
        "connectionId": {"S": connection_id},
        "connectedAt": {"N": str(connected_at_ms)},
        "sourceIp": {"S": source_ip},
        TTL_ATTRIBUTE: {"N": str(int(time.time()) + config.connection_ttl_seconds)},
    }
    if user_id:
        item["userId"] = {"S": user_id}
    clients.dynamodb().put_item(TableName=config.table_name, Item=item)


def get_connection(connection_id: str) -> dict[str, Any] | None:
    response = clients.dynamodb().get_item(
        TableName=settings().table_name, Key=_connection_key(connection_id), ConsistentRead=True
    )
    item = response.get("Item")
    if item is None:
        return None
    return {name: next(iter(value.values())) for name, value in item.items()}


def delete_connection(connection_id: str) -> None:
    clients.dynamodb().delete_item(TableName=settings().table_name, Key=_connection_key(connection_id))
