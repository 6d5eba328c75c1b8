"""Unit tests are pure: no network, not even to this machine. A test that opens a socket fails here and belongs in
tests/integration (moto, local servers, real boto3 clients) or tests/e2e (through localgw)."""

from __future__ import annotations

import socket

import pytest


class NetworkInUnitTest(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkInUnitTest("a unit test opened a network connection: move it to tests/integration or tests/e2e")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket.socket, "bind", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    # boto3 clients are built (never called) in unit tests: without a region they would ask the metadata service.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
