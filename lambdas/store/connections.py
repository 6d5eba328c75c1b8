"""Connections: who is connected, since when, from where (`CONN#{connectionId}` / `META`)."""

from __future__ import annotations

from typing import Any

from lambdas.store import keys
from lambdas.store.table import ExpiringItems, Write
from lambdas.table_schema import TTL_ATTRIBUTE


class Connections(ExpiringItems):
    """The connection items of one table."""

    def put(self, connection_id: str, connected_at_ms: int, source_ip: str, user_id: str | None = None) -> None:
        item: dict[str, Any] = {
            **keys.connection(connection_id),
            "connectionId": {"S": connection_id},
            "connectedAt": {"N": str(connected_at_ms)},
            "sourceIp": {"S": source_ip},
            TTL_ATTRIBUTE: {"N": str(self._expires_at())},
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
