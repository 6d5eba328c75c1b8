"""End-to-end fixtures: the real relay behind localgw, reached with real WebSocket clients and dev-issuer tokens."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lambdas import store
from lambdas.config import settings
from lambdas.handlers import sendtext
from localgw import GatewayHandle

_users = itertools.count()


@pytest.fixture
def connect(relay_gateway: GatewayHandle, ws_connect: Callable[..., Any]) -> Callable[..., Any]:
    """`connect(user=None)`: a WebSocket to the relay authenticated as `user` (a fresh user by default, so
    per-user quotas of one test never touch another)."""

    def open_socket(user: str | None = None, **kwargs: Any) -> Any:
        user = user or f"e2e-user-{next(_users)}"
        return ws_connect(relay_gateway.ws_url, query=f"token={relay_gateway.dev_issuer.mint(user)}", **kwargs)

    return open_socket


@pytest.fixture
def relay_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """`relay_env(RELAY_X="1", ...)`: change the functions' settings for one test (they share this process): what
    an execution environment builds from them once (the settings, the store, sendtext's answering) is built again."""

    def new_environments() -> None:
        settings.cache_clear()
        store.shared.cache_clear()
        sendtext.answering.cache_clear()

    def apply(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        new_environments()

    yield apply
    monkeypatch.undo()
    new_environments()
