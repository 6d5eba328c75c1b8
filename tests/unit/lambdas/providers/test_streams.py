"""Reassembling lines and server-sent events from pieces cut anywhere (PayloadParts, HTTP chunks)."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.providers.streams import LineBuffer, LineTooLongError, SseDecoder


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in pairwise(points)]


@given(
    lines=st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_lines_survive_any_cutting(lines: list[str], cuts: list[int]) -> None:
    # GIVEN newline-terminated UTF-8 lines (multi-byte characters included) cut at arbitrary byte offsets
    data = "".join(f"{line}\n" for line in lines).encode()
    buffer = LineBuffer()
    # WHEN the pieces arrive one by one
    got = [line for piece in _cut(data, cuts) for line in buffer.feed(piece)] + buffer.end()
    # THEN the lines come out whole and in order, none invented
    assert got == lines


def test_several_lines_in_one_piece_and_a_line_across_pieces() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":1}\n{"b":2}\n{"c"') == ['{"a":1}', '{"b":2}']
    assert buffer.feed(b":3}\n") == ['{"c":3}']


def test_a_piece_ending_inside_a_utf8_sequence_waits_for_the_rest() -> None:
    euro = "€".encode()  # 3 bytes
    buffer = LineBuffer()
    assert buffer.feed(b"price: " + euro[:1]) == []
    assert buffer.feed(euro[1:2]) == []
    assert buffer.feed(euro[2:] + b"5\r\n") == ["price: €5"]


def test_last_line_without_newline_is_kept_at_the_end() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\ntwo") == ["one"]
    assert buffer.end() == ["two"]
    assert buffer.end() == []


def test_a_line_over_the_limit_is_an_error_and_memory_stays_bounded() -> None:
    buffer = LineBuffer(max_line_bytes=16)
    assert buffer.feed(b"x" * 10) == []
    with pytest.raises(LineTooLongError, match="exceeded 16 bytes"):
        buffer.feed(b"y" * 10)


def test_a_line_of_exactly_the_limit_passes() -> None:
    buffer = LineBuffer(max_line_bytes=4)
    assert buffer.feed(b"abcd\nef") == ["abcd"]


def _events(lines: list[str]) -> list[str]:
    sse = SseDecoder()
    out = [data for line in lines if (data := sse.feed(line)) is not None]
    last = sse.end()
    return [*out, last] if last is not None else out


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(['data: {"a":1}', ""], ['{"a":1}'], id="one-event"),
        pytest.param(['data:{"a":1}', ""], ['{"a":1}'], id="no-space-after-colon"),
        pytest.param(["data:  two spaces", ""], [" two spaces"], id="only-one-space-stripped"),
        pytest.param(["data: line 1", "data: line 2", ""], ["line 1\nline 2"], id="multi-line-event"),
        pytest.param([": keep-alive", "", "data: x", ""], ["x"], id="comment-and-blank-ignored"),
        pytest.param(["event: message", "id: 7", "retry: 100", "data: y", ""], ["y"], id="other-fields-ignored"),
        pytest.param(["data: [DONE]", ""], ["[DONE]"], id="done-marker"),
        pytest.param(["data: tail"], ["tail"], id="unterminated-last-event-kept"),
        pytest.param(["", "", ""], [], id="blank-lines-only"),
    ],
)
def test_sse_events(lines: list[str], expected: list[str]) -> None:
    assert _events(lines) == expected
