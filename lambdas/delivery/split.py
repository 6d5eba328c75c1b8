"""Cutting text so that every frame holding it encodes to at most `MAX_FRAME_BYTES` of UTF-8 JSON."""

from __future__ import annotations

from collections.abc import Iterator

_ESCAPE_COST = {'"': 2, "\\": 2, "\n": 2, "\r": 2, "\t": 2, "\b": 2, "\f": 2}


def _cost(char: str) -> int:
    """Bytes `char` takes inside a JSON string as `lambdas.protocol.encode` writes it."""
    special = _ESCAPE_COST.get(char)
    if special is not None:
        return special
    code = ord(char)
    if code < 0x20:
        return 6  # \u00XX
    if code < 0x80:
        return 1
    if code < 0x800:
        return 2
    if 0xD800 <= code <= 0xDFFF:
        return 1  # a lone surrogate is written as "?" (it has no UTF-8 form)
    return 3 if code < 0x10000 else 4


def split_text(text: str, budget: int) -> Iterator[str]:
    """Consecutive pieces of `text`, each costing at most `budget` bytes once JSON-encoded.

    Pieces are cut between code points, so never inside a UTF-8 sequence; their concatenation is `text`.
    """
    if budget < 6:
        raise ValueError("budget must fit at least one escaped character")
    if len(text) * 6 <= budget:  # fast path: even all-escapes would fit
        yield text
        return
    start = used = 0
    for index, char in enumerate(text):
        cost = _cost(char)
        if used + cost > budget:
            yield text[start:index]
            start, used = index, 0
        used += cost
    if start < len(text):
        yield text[start:]
