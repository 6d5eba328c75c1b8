"""Fixtures for unit tests that need DynamoDB: moto in-process (`mock_aws`), the relay's own table definition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from lambdas import clients
from lambdas.config import settings
from lambdas.store import Store
from localgw.dynamodb import LocalDynamoDB

TABLE = "relay-unit"


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The DynamoDB client the store uses, on a fresh moto table (named by RELAY_TABLE_NAME, as in the stack)."""
    monkeypatch.setenv("RELAY_TABLE_NAME", TABLE)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    settings.cache_clear()
    clients.dynamodb.cache_clear()
    with mock_aws():
        LocalDynamoDB._create(clients.dynamodb(), TABLE)  # the same table definition localgw creates
        yield clients.dynamodb()
    clients.dynamodb.cache_clear()
    settings.cache_clear()


@pytest.fixture
def store(table: Any) -> Store:
    """The relay's store over the moto table."""
    return Store.over(table, TABLE)
