"""The relay's constructs: each owns its resources and exposes typed attributes to the stack that composes them."""

from __future__ import annotations

from stacks.constructs.auth import RelayAuth
from stacks.constructs.functions import RelayFunctions
from stacks.constructs.table import RelayTable
from stacks.constructs.websocket_api import RelayWebSocketApi

__all__ = ["RelayAuth", "RelayFunctions", "RelayTable", "RelayWebSocketApi"]
