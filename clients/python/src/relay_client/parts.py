"""Long text as `sendtext` parts (issue 15): no frame over the gateway's 32 KB limit, whatever the text.

API Gateway closes a connection with 1009 on a frame over 32 KB, and browsers (and this client, for symmetry) send
each message as one frame. A `sendtext` larger than the frame budget therefore goes out as several `sendtext`
messages: every field repeated, `part` i (0-based) of `parts` n, each with its slice of `text`. The relay joins
them in index order, whatever order they land in. Sizes are counted as they go on the wire: JSON-escaped, UTF-8.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

FRAME_LIMIT_BYTES = 32 * 1024
"""API Gateway's frame quota."""
FRAME_BUDGET_BYTES = 30 * 1024
"""What one message may take on the wire: under the limit with room to spare."""
MAX_PARTS = 64
"""The relay joins at most this many parts."""


class SplitError(ValueError):
    """No split fits the message in frames of the budget."""


def encode(message: Mapping[str, Any]) -> bytes:
    """The message as sent: compact JSON, non-ASCII as UTF-8 (what `message_bytes` counts)."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def message_bytes(message: Mapping[str, Any]) -> int:
    return len(encode(message))


def _escaped_bytes(char: str) -> int:
    """Bytes one character takes inside a JSON string on the wire."""
    code = ord(char)
    if 0x20 <= code < 0x7F and char not in '"\\':
        return 1
    return len(json.dumps(char, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2


def split_sendtext(message: Mapping[str, Any], budget: int = FRAME_BUDGET_BYTES) -> list[dict[str, Any]]:
    """`message` itself when it fits `budget` bytes, else its parts, none over the budget. Raises SplitError."""
    if message_bytes(message) <= budget:
        return [dict(message)]
    if not message.get("requestId"):
        raise SplitError("a message sent in parts needs a requestId")
    text = message.get("text") or ""
    # The widest part numbers: the last part's frame is never larger than computed here.
    overhead = message_bytes({**message, "text": "", "part": MAX_PARTS, "parts": MAX_PARTS})
    room = budget - overhead
    if room < 64:
        raise SplitError(f"its fields other than text take {overhead} bytes of the {budget}-byte frame budget")
    slices: list[str] = []
    start = used = 0
    for index, char in enumerate(text):
        width = _escaped_bytes(char)
        if used + width > room:
            slices.append(text[start:index])
            start, used = index, 0
        used += width
    slices.append(text[start:])
    if len(slices) > MAX_PARTS:
        raise SplitError(
            f"its text needs {len(slices)} parts of at most {budget} bytes; the relay joins at most {MAX_PARTS}"
        )
    return [{**message, "text": piece, "part": index, "parts": len(slices)} for index, piece in enumerate(slices)]
