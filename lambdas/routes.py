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
    Route("models", "Models", "lambdas.handlers.models.handler"),
    Route("cancel", "Cancel", "lambdas.handlers.cancel.handler"),
    Route("resume", "Resume", "lambdas.handlers.resume.handler"),
    Route("history", "History", "lambdas.handlers.history.handler"),
    Route("conversations", "Conversations", "lambdas.handlers.conversations.handler"),
    Route("attach", "Attach", "lambdas.handlers.attach.handler"),
)


@dataclass(frozen=True, slots=True)
class Authorizer:
    """A Lambda REQUEST authorizer on `$connect` (API Gateway allows authorizers on `$connect` only)."""

    function: str
    handler: str
    identity_sources: tuple[str, ...]
    """API Gateway identity sources, e.g. `route.request.querystring.token`; any missing or empty one → 401."""


AUTHORIZER: Authorizer | None = Authorizer(
    function="Authorizer",
    handler="lambdas.handlers.authorizer.handler",
    # None on purpose: API Gateway answers 401 without calling the authorizer when ANY listed source is missing,
    # which would lock out either query-token (browser) or header (wscat -H) clients. The authorizer reads both
    # and denies a request that has neither. WebSocket APIs do not cache authorizer results, so nothing is lost.
    identity_sources=(),
)
"""The `$connect` authorizer (JWT, docs/security.md). A deployed stack always has it; localgw's `--no-auth`
turns it off for quick local experiments."""

ACTIONS: tuple[str, ...] = tuple(route.key for route in ROUTES if not route.key.startswith("$"))
"""Actions a client may name in `{"action": ...}`; `$default` answers anything else with `unknown_action`."""


def load_handler(handler: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import a Lambda handler string (`package.module.function`) the way the Lambda runtime does."""
    module_name, _, attr = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)
