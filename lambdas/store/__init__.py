"""The relay's single DynamoDB table: connections, answers, conversations and quotas (keys: `lambdas.store.keys`).

`Store` bundles one class per kind of item over one client and table; `shared()` is this execution environment's,
built once from the settings (tests and localgw, which change the environment, call `shared.cache_clear()`).
Tests build a `Store` over any client instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from lambdas import clients
from lambdas.config import DEFAULT_CONNECTION_TTL_SECONDS, TUNING_DEFAULTS, settings
from lambdas.store.answers import Answers
from lambdas.store.connections import Connections
from lambdas.store.conversations import Conversations
from lambdas.store.keys import Key
from lambdas.store.quotas import Quotas, QuotaSettings
from lambdas.store.table import Items, Table, Write
from lambdas.store.uploads import Uploads


@dataclass(frozen=True, slots=True)
class Store:
    table: Table
    connections: Connections
    answers: Answers
    conversations: Conversations
    quotas: Quotas
    uploads: Uploads
    """Texts sent in parts (lambdas.store.uploads)."""

    @classmethod
    def over(
        cls,
        client: object,
        table_name: str,
        *,
        limits: QuotaSettings | None = None,
        connection_ttl_seconds: int = DEFAULT_CONNECTION_TTL_SECONDS,
        answer_ttl_seconds: int = int(TUNING_DEFAULTS["answer_ttl_seconds"]),
        conversation_ttl_seconds: int = int(TUNING_DEFAULTS["conversation_ttl_seconds"]),
        clock: Callable[[], float] = time.time,
    ) -> Store:
        return cls(
            table=Table(client, table_name),
            connections=Connections(client, table_name, ttl_seconds=connection_ttl_seconds, clock=clock),
            answers=Answers(client, table_name, ttl_seconds=answer_ttl_seconds, clock=clock),
            conversations=Conversations(client, table_name, ttl_seconds=conversation_ttl_seconds, clock=clock),
            quotas=Quotas(client, table_name, limits or QuotaSettings(), clock=clock),
            uploads=Uploads(client, table_name, clock=clock),
        )

    @classmethod
    def from_settings(cls) -> Store:
        """Over the shared DynamoDB client and the table, retention and quota limits of the environment."""
        config = settings()
        return cls.over(
            clients.dynamodb(),
            config.table_name,
            limits=QuotaSettings.from_env(),
            connection_ttl_seconds=config.connection_ttl_seconds,
            answer_ttl_seconds=config.answer_ttl_seconds,
            conversation_ttl_seconds=config.conversation_ttl_seconds,
        )

    def read(self, wanted: Sequence[Key], doing: str) -> Items:
        """Items of any kind (at most 100), read as one atomic snapshot in one request."""
        return self.table.snapshot(wanted, doing=doing) if wanted else {}

    def transact(self, writes: Sequence[Write]) -> None:
        """Writes of any kind, all or none."""
        self.table.transact(writes)


@cache
def shared() -> Store:
    """This execution environment's store."""
    return Store.from_settings()
