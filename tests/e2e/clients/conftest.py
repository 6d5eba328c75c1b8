"""Fixtures of the Python client's tests: a fresh user per test, and RelayClients of the relay behind localgw."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest
from relay_client import RelayClient

from localgw import GatewayHandle

_users = itertools.count()


@pytest.fixture
def user() -> str:
    return f"py-client-{os.getpid()}-{next(_users)}"


@pytest.fixture
def client(relay_gateway: GatewayHandle, user: str) -> Callable[..., RelayClient]:
    """`client(**RelayClient options)`: a client of the relay as a fresh user (quotas never shared), with a user
    agent naming it so a test can find its connection in the gateway."""
    agents = itertools.count()

    def make(**options: Any) -> RelayClient:
        options.setdefault("token", relay_gateway.dev_issuer.mint(user))
        options.setdefault("backoff_base", 0.1)
        options.setdefault("connect_options", {"user_agent_header": f"{user}/{next(agents)}"})
        return RelayClient(relay_gateway.ws_url, **options)

    return make
