"""FrameSizeFilter: the 32 KB per-frame check on the raw client byte stream (golden vectors)."""

from __future__ import annotations

import struct

import pytest

from localgw.frames import FrameSizeFilter

LIMIT = 32 * 1024
MASK = b"\x01\x02\x03\x04"


def frame(payload: bytes, *, opcode: int = 0x1, fin: bool = True, masked: bool = True) -> bytes:
    """One client frame, as RFC 6455 lays it out (the payload is left unmasked: the filter never reads it)."""
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if len(payload) < 126:
        header = bytes([first, mask_bit | len(payload)])
    elif len(payload) < 65536:
        header = bytes([first, mask_bit | 126]) + struct.pack("!H", len(payload))
    else:
        header = bytes([first, mask_bit | 127]) + struct.pack("!Q", len(payload))
    return header + (MASK if masked else b"") + payload


PASSING = [
    pytest.param(frame(b"hello"), id="small-text"),
    pytest.param(frame(b""), id="empty"),
    pytest.param(frame(b"x" * 200), id="16-bit-length"),
    pytest.param(frame(b"x" * LIMIT), id="exactly-32kb"),
    pytest.param(frame(b"a" * 1000, fin=False) + frame(b"b" * 1000, opcode=0x0), id="fragments"),
    pytest.param(frame(b"x" * 10, masked=False), id="unmasked"),
    pytest.param(frame(b"\x03\xe8", opcode=0x8) + frame(b"p", opcode=0x9), id="control-frames"),
]


@pytest.mark.parametrize("stream", PASSING)
def test_frames_within_the_limit_pass_unchanged(stream: bytes) -> None:
    frame_filter = FrameSizeFilter(LIMIT)
    assert frame_filter.feed(stream) == stream
    assert frame_filter.violation is None


@pytest.mark.parametrize("stream", PASSING)
def test_any_split_gives_the_same_bytes(stream: bytes) -> None:
    for cut in range(1, min(len(stream), 40)):
        frame_filter = FrameSizeFilter(LIMIT)
        assert frame_filter.feed(stream[:cut]) + frame_filter.feed(stream[cut:]) == stream


def test_byte_by_byte() -> None:
    stream = frame(b"x" * 300) + frame(b"y")
    frame_filter = FrameSizeFilter(LIMIT)
    assert b"".join(frame_filter.feed(stream[i : i + 1]) for i in range(len(stream))) == stream


def test_oversize_frame_is_dropped_and_reported() -> None:
    before = frame(b"ok")
    too_big = frame(b"x" * (LIMIT + 1))
    frame_filter = FrameSizeFilter(LIMIT)
    assert frame_filter.feed(before + too_big) == before
    assert frame_filter.violation == LIMIT + 1


def test_64_bit_length_over_the_limit() -> None:
    frame_filter = FrameSizeFilter(LIMIT)
    assert frame_filter.feed(frame(b"x" * 70000)) == b""
    assert frame_filter.violation == 70000


def test_after_a_violation_only_control_frames_pass() -> None:
    # The closing handshake must still reach aiohttp; later data frames must not.
    close = frame(b"\x03\xe8", opcode=0x8)
    frame_filter = FrameSizeFilter(LIMIT)
    out = frame_filter.feed(frame(b"x" * (LIMIT + 1)) + frame(b"later") + close)
    assert out == close


def test_oversize_continuation_frame_is_caught() -> None:
    frame_filter = FrameSizeFilter(LIMIT)
    first = frame(b"a" * 10, fin=False)
    assert frame_filter.feed(first + frame(b"b" * (LIMIT + 1), opcode=0x0)) == first
    assert frame_filter.violation == LIMIT + 1
