"""WebSocket close codes and the `disconnectReason` texts API Gateway reports with them.

Texts marked (seen) appear in real `$disconnect` events (Powertools' test events, API Gateway execution logs quoted
in boto/boto3#3789); the others are our best guess and are listed as such in docs/localgw.md.
"""

from __future__ import annotations

from typing import NamedTuple


class Close(NamedTuple):
    code: int
    reason: str


NORMAL = Close(1000, "Connection Closed Normally")  # (seen) DeleteConnection
GOING_AWAY = Close(1001, "Going away")  # guess: idle timeout, 2 h limit, gateway shutdown
UNSUPPORTED_DATA = Close(1003, "Unsupported data")  # guess: a binary frame
NO_STATUS = Close(1005, "Client-side close frame status not set")  # (seen) close frame without a status
ABNORMAL = Close(1006, "Connection closed abnormally")  # guess: TCP dropped without a close frame
MESSAGE_TOO_BIG = Close(1009, "Message too big")  # guess: message > 128 KB or frame > 32 KB

_DESCRIPTIONS = {close.code: close.reason for close in (NORMAL, GOING_AWAY, UNSUPPORTED_DATA, NO_STATUS, ABNORMAL)}


def from_client(code: int | None, reason: str | None) -> Close:
    """What `$disconnect` reports for a close frame the client sent (aiohttp reports a bare frame as code 0)."""
    if not code or code == NO_STATUS.code:
        return NO_STATUS
    return Close(code, reason or _DESCRIPTIONS.get(code, ""))
