"""API Gateway's 32 KB per-frame quota, which aiohttp cannot see on its own.

aiohttp reassembles fragmented messages before handing them over and only limits the assembled size
(`max_msg_size`, which enforces the 128 KB message quota). To see individual frames, `FrameSizeFilter` walks the raw
client→server byte stream, reading only frame headers, in front of aiohttp's parser. When a data frame is over the
limit it stops passing data frames on (control frames still pass, so the closing handshake completes) and reports
the violation once; the gateway then closes the connection with 1009.

The hook point is aiohttp's `RequestHandler._payload_parser`, set in `WebSocketResponse._post_start()` — private
API, so `LimitedWebSocketResponse` checks it is there and otherwise logs and leaves the frame check off
(tests/e2e/localgw/test_limits.py fails loudly if a new aiohttp version breaks it).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("localgw")

_DATA_OPCODES = frozenset({0x0, 0x1, 0x2})  # continuation, text, binary


class FrameSizeFilter:
    """Incremental: feed raw bytes in any split, get back the bytes to pass on."""

    def __init__(self, max_data_frame_bytes: int) -> None:
        self.max_data_frame_bytes = max_data_frame_bytes
        self.violation: int | None = None
        """Payload length of the first data frame over the limit; None while every frame is within it."""
        self._header = bytearray()
        self._remaining = 0
        self._passing = True

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        view = memoryview(data)
        position = 0
        while position < len(view):
            if self._remaining:
                take = min(self._remaining, len(view) - position)
                if self._passing:
                    out += view[position : position + take]
                position += take
                self._remaining -= take
                continue
            needed = _header_length(self._header)
            take = min(needed - len(self._header), len(view) - position)
            self._header += view[position : position + take]
            position += take
            if len(self._header) < _header_length(self._header):
                continue  # a partial header waits for more bytes
            self._start_frame(out)
        return bytes(out)

    def _start_frame(self, out: bytearray) -> None:
        opcode, length = _parse_header(self._header)
        is_data = opcode in _DATA_OPCODES
        if is_data and length > self.max_data_frame_bytes and self.violation is None:
            self.violation = length
        self._passing = not (is_data and self.violation is not None)
        if self._passing:
            out += self._header
        self._header.clear()
        self._remaining = length


def _header_length(header: bytearray) -> int:
    if len(header) < 2:
        return 2
    length7 = header[1] & 0x7F
    extended = 2 if length7 == 126 else 8 if length7 == 127 else 0
    mask = 4 if header[1] & 0x80 else 0
    return 2 + extended + mask


def _parse_header(header: bytearray) -> tuple[int, int]:
    opcode = header[0] & 0x0F
    length7 = header[1] & 0x7F
    if length7 == 126:
        return opcode, struct.unpack_from("!H", header, 2)[0]
    if length7 == 127:
        return opcode, struct.unpack_from("!Q", header, 2)[0]
    return opcode, length7


class _FilteringParser:
    """Stands in for aiohttp's WebSocketReader on the protocol: filters, then delegates."""

    def __init__(self, inner: Any, frame_filter: FrameSizeFilter, on_violation: Callable[[int], None]) -> None:
        self._inner = inner
        self._filter = frame_filter
        self._on_violation = on_violation
        self._reported = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        passed = self._filter.feed(bytes(data))
        if self._filter.violation is not None and not self._reported:
            self._reported = True
            self._on_violation(self._filter.violation)
        if not passed:
            return False, b""
        return self._inner.feed_data(passed)

    def feed_eof(self) -> None:
        self._inner.feed_eof()


class LimitedWebSocketResponse(web.WebSocketResponse):
    """A WebSocketResponse that also reports data frames over `max_frame_bytes` through `on_frame_too_big`."""

    def __init__(self, *, max_frame_bytes: int | None, on_frame_too_big: Callable[[int], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._max_frame_bytes = max_frame_bytes
        self._on_frame_too_big = on_frame_too_big

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        if self._max_frame_bytes is None:
            return
        handler = request.protocol
        inner = getattr(handler, "_payload_parser", None)
        if inner is None:
            log.warning("this aiohttp version hides its WebSocket parser: the 32 KB frame limit is not enforced")
            return
        handler._payload_parser = _FilteringParser(  # type: ignore[union-attr]
            inner, FrameSizeFilter(self._max_frame_bytes), self._on_frame_too_big
        )
