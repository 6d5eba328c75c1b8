"""The WebSocket API's routes: the one definition read by the CDK stack and by localgw.

Adding a route here adds it to the deployed API and to the local gateway with no second edit.
This module must stay dependency-free: the CDK app and localgw import it without the Lambda runtime's packages.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROUTE_SELECTION_EXPRESSION = "$request.body.action"


@dataclass(frozen=True, slots=True)
class Route:
    """One API Gateway route and the Lambda entry point behind it."""

    key: str
    """API Gateway route key: `$connect`, `$disconnect`, `$default` or an action name."""
    function: str
    """Logical name of the function: CDK construct id and localgw's log label."""
    handler: str
    """Lambda handler string, `package.module.function`, resolved inside the shared `lambdas` asset."""
    streaming: bool = False
    """Long-running (streams an answer): gets the streaming memory and timeout settings."""


ROUTES: tuple[Route, ...] = (
    Route("$connect", "Connect", "lambdas.handlers.connect.handler"),
    Route("$disconnect", "Disconnect", "lambdas.handlers.disconnect.handler"),
    Route("$default", "Default", "lambdas.handlers.default.handler"),
    Route("sendtext", "SendText", "lambdas.handlers.sendtext.handler", streaming=True),
)



@dataclass(frozen=True, slots=True)
class Authorizer:
    """A Lambda REQUEST authorizer on `$connect` (API Gateway allows authorizers on `$connect` only)."""

    function: str
    handler: str
    identity_sources: tuple[str, ...]
    """API Gateway identity sources, e.g. `route.request.querystring.token`; any missing or empty one → 401."""


AUTHORIZER: Authorizer | None = None
"""Set by the security work; None means `$connect` is open (localgw's `--no-auth` behaves the same way)."""

ACTIONS: tuple[str, ...] = tuple(route.key for route in ROUTES if not route.key.startswith("$"))
"""Actions a client may name in `{"action": ...}`; `$default` answers anything else with `unknown_action`."""


def load_handler(handler: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import a Lambda handler string (`package.module.function`) the way the Lambda runtime does."""
    module_name, _, attr = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)
