"""Connections: who is connected, since when, from where (`CONN#{connectionId}` / `META`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lambdas.store import keys
from lambdas.store.table import Table, Write
from lambdas.table_schema import TTL_ATTRIBUTE


class Connections:
    """The connection items of one table."""

    def __init__(
        self, client: object, table_name: str, *, ttl_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._table = Table(client, table_name)
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def put(self, connection_id: str, connected_at_ms: int, source_ip: str, user_id: str | None = None) -> None:
        item: dict[str, Any] = {
            **keys.connection(connection_id),
            "connectionId": {"S": connection_id},
            "connectedAt": {"N": str(connected_at_ms)},
            "sourceIp": {"S": source_ip},
            TTL_ATTRIBUTE: {"N": str(int(self._clock()) + self._ttl_seconds)},
        }
        if user_id:
            item["userId"] = {"S": user_id}
        self._table.write(Write("connection", "Put", {"Item": item}))

    def get(self, connection_id: str) -> dict[str, Any] | None:
        item = self._table.get(keys.connection(connection_id), doing="reading the connection")
        if item is None:
            return None
        return {name: next(iter(value.values())) for name, value in item.items()}

    def delete(self, connection_id: str) -> None:
        self._table.write(Write("connection", "Delete", {"Key": keys.connection(connection_id)}))
