"""Byte streams → lines → server-sent events, for upstreams whose chunks do not align with their records.

SageMaker's PayloadParts and HTTP chunks cut wherever they like: inside a JSON line, inside a UTF-8 sequence, or
with several lines in one piece. `LineBuffer` keeps only the incomplete tail, and a line may not grow past
`MAX_LINE_BYTES`, so a misbehaving upstream cannot make the buffer grow without bound.
"""

from __future__ import annotations

from typing import Final

MAX_LINE_BYTES: Final = 1024 * 1024
"""The longest line accepted from an upstream (1 MiB); a longer one ends the answer with an error."""


class LineTooLongError(ValueError):
    """An upstream line grew past the buffer's limit before its newline arrived."""


class LineBuffer:
    """Reassembles text lines from arbitrary byte pieces. Lines are decoded only once complete, so a piece that
    ends inside a multi-byte UTF-8 sequence is simply waited on."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._tail = bytearray()
        self._max = max_line_bytes

    def feed(self, data: bytes) -> list[str]:
        """The lines completed by `data` (without their `\\n` or `\\r\\n`). Raises LineTooLongError."""
        lines: list[str] = []
        start = 0
        # Only the new bytes are searched: the tail is known to hold no newline.
        while (newline := data.find(b"\n", start)) != -1:
            self._grow(newline - start)
            self._tail += data[start:newline]
            lines.append(self._take())
            start = newline + 1
        self._grow(len(data) - start)
        self._tail += data[start:]
        return lines

    def end(self) -> list[str]:
        """The last line when the stream ended without a final newline."""
        return [self._take()] if self._tail else []

    def _grow(self, extra: int) -> None:
        if len(self._tail) + extra > self._max:
            size = len(self._tail) + extra
            self._tail.clear()
            raise LineTooLongError(f"an upstream line exceeded {self._max} bytes (at least {size} before its end)")

    def _take(self) -> str:
        raw = bytes(self._tail)
        self._tail.clear()
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        return raw.decode("utf-8", errors="replace")


class SseDecoder:
    """Server-sent events from text lines (WHATWG HTML "event stream interpretation"): `data:` lines of one event
    join with `\\n`, a blank line dispatches it, `:` lines are comments, other fields (`event`, `id`, `retry`) are
    not needed by any upstream here and are ignored."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        """The data of the event this line dispatches, if any."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        return None

    def end(self) -> str | None:
        """An event left without its blank line when the stream ended. The spec discards it; upstreams that end
        on `data:...\\n` exist, and their last event is the one carrying the stop reason, so it is kept."""
        return self._dispatch()

    def _dispatch(self) -> str | None:
        if not self._data:
            return None
        data = "\n".join(self._data)
        self._data.clear()
        return data
