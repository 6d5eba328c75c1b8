"""Who is calling: identity comes only from what the `$connect` authorizer put in `requestContext.authorizer`."""

from __future__ import annotations

from typing import Any


def caller_id(event: dict[str, Any]) -> str:
    """The authenticated user's id; without an authorizer (localgw --no-auth), the connection stands in for it.

    Never read from the message body: a client cannot claim to be someone else.
    """
    context = event.get("requestContext") or {}
    authorizer = context.get("authorizer") or {}
    user = authorizer.get("userId") or authorizer.get("principalId")
    if user:
        return str(user)
    return f"connection:{context.get('connectionId', '')}"
