"""Route selection for incoming messages, as API Gateway does it with `$request.body.<path>`."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

DEFAULT_ROUTE = "$default"
_RESERVED = frozenset({"$connect", "$disconnect"})
_BODY_PREFIX = "$request.body."


def selection_path(expression: str) -> tuple[str, ...]:
    """`$request.body.action` → `("action",)`. Only body expressions exist for WebSocket APIs' messages."""
    if not expression.startswith(_BODY_PREFIX) or expression == _BODY_PREFIX:
        raise ValueError(f"unsupported route selection expression {expression!r}: expected $request.body.<path>")
    return tuple(expression[len(_BODY_PREFIX) :].split("."))


def selection_value(body: str, path: tuple[str, ...]) -> str | None:
    """The stringified value at `path` in a JSON-object body; None for a non-JSON body, a non-object, a missing key
    or a null. Non-string values are stringified the way JSON writes them (`123` selects route `"123"`).

    A body nested too deeply to evaluate (1,000 levels of `[` fit in 2 KB) is None too, so it goes to `$default`
    as on API Gateway, instead of a RecursionError ending the connection."""
    try:
        node: Any = json.loads(body)
    except (ValueError, RecursionError):
        return None
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if node is None:
        return None
    if isinstance(node, str):
        return node
    try:
        return json.dumps(node, separators=(",", ":"))
    except RecursionError:
        return None


def select_route(body: str, route_keys: Collection[str], path: tuple[str, ...]) -> str | None:
    """The route a message goes to: its selection value when a route has that key, else `$default`, else None
    (the client then gets a Forbidden frame). `$connect`/`$disconnect` can never be selected by a message."""
    value = selection_value(body, path)
    if value is not None and value in route_keys and value not in _RESERVED:
        return value
    if DEFAULT_ROUTE in route_keys:
        return DEFAULT_ROUTE
    return None


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """The JSON API Gateway writes on the socket for gateway-side errors ("Forbidden", "Internal server error")."""
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id})
