"""The event-stream encoder against botocore's own decoder and its published test vectors.

The golden vectors are copied from botocore's tests/unit/test_eventstream.py (POSITIVE_CASES plus the two
framed messages its EventStream tests use): if our bytes equal theirs, botocore reads what we write exactly as it
reads AWS.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer, EventStreamMessage

from localgw.eventstream import (
    MAX_HEADER_NAME_LENGTH,
    MAX_HEADER_VALUE_LENGTH,
    MAX_PAYLOAD_LENGTH,
    EventStreamEncodeError,
    HeaderType,
    TypedHeader,
    encode_message,
    error_message,
    event_message,
    exception_message,
)

# (encoded bytes from botocore's tests, headers and payload that must produce them)
GOLDEN_VECTORS = {
    "empty message": (b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff", {}, b""),
    "int8 header": (
        b"\x00\x00\x00\x17\x00\x00\x00\x07)\x86\x01X\x04byte\x02\xff\xc2\xf8i\xdc",
        {"byte": TypedHeader(HeaderType.BYTE, -1)},
        b"",
    ),
    "int16 header": (
        b"\x00\x00\x00\x19\x00\x00\x00\tq\x0e\x92>\x05short\x03\xff\xff\xb2|\xb6\xcc",
        {"short": TypedHeader(HeaderType.SHORT, -1)},
        b"",
    ),
    "int32 header": (
        b"\x00\x00\x00\x1d\x00\x00\x00\r\x83\xe3\xf0\xe7\x07integer\x04\xff\xff\xff\xff\x8b\x8e\x12\xeb",
        {"integer": -1},
        b"",
    ),
    "int64 header": (
        b"\x00\x00\x00\x1e\x00\x00\x00\x0e]J\xdb\x8d\x04long\x05\xff\xff\xff\xff\xff\xff\xff\xffK\xc22\xda",
        {"long": TypedHeader(HeaderType.LONG, -1)},
        b"",
    ),
    "payload, no headers": (
        b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96",
        {},
        b"{'foo':'bar'}",
    ),
    "payload, one string header": (
        b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10"
        b"application/json{'foo':'bar'}\x8d\x9c\x08\xb1",
        {"content-type": "application/json"},
        b"{'foo':'bar'}",
    ),
    "all header types": (
        b"\x00\x00\x00\x62\x00\x00\x00\x52\x03\xb5\xcb\x9c"
        b"\x010\x00\x011\x01\x012\x02\x02\x013\x03\x00\x03"
        b"\x014\x04\x00\x00\x00\x04\x015\x05\x00\x00\x00\x00\x00\x00\x00\x05"
        b"\x016\x06\x00\x05bytes\x017\x07\x00\x04utf8"
        b"\x018\x08\x00\x00\x00\x00\x00\x00\x00\x08\x019\x090123456789abcdef"
        b"\x63\x35\x36\x71",
        {
            "0": True,
            "1": False,
            "2": TypedHeader(HeaderType.BYTE, 2),
            "3": TypedHeader(HeaderType.SHORT, 3),
            "4": 4,
            "5": TypedHeader(HeaderType.LONG, 5),
            "6": b"bytes",
            "7": "utf8",
            "8": TypedHeader(HeaderType.TIMESTAMP, 8),
            "9": uuid.UUID(bytes=b"0123456789abcdef"),
        },
        b"",
    ),
    "error message": (
        b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e"
        b"\x0d:message-type\x07\x00\x05error"
        b"\x0b:error-code\x07\x00\x04code"
        b"\x0e:error-message\x07\x00\x07message"
        b"\x6b\x6c\xea\x3d",
        {":message-type": "error", ":error-code": "code", ":error-message": "message"},
        b"",
    ),
    "event-id int32 header": (
        b"\x00\x00\x00+\x00\x00\x00\x0e4\x8b\xec{\x08event-id\x04\x00\x00\xa0\x0c{'foo':'bar'}\xd3\x89\x02\x85",
        {"event-id": 0x0000A00C},
        b"{'foo':'bar'}",
    ),
    "initial-response event": (
        b"\x00\x00\x00~\x00\x00\x00O\xc5\xa3\xdd\xc6\r:message-type\x07\x00"
        b"\x05event\x0b:event-type\x07\x00\x10initial-response\r:content-type"
        b'\x07\x00\ttext/json{"InitialResponse": "sometext"}\xf6\x98$\x83',
        {":message-type": "event", ":event-type": "initial-response", ":content-type": "text/json"},
        b'{"InitialResponse": "sometext"}',
    ),
}


def decode_all(data: bytes) -> list[EventStreamMessage]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


@pytest.mark.parametrize("name", GOLDEN_VECTORS)
def test_encoding_reproduces_botocore_test_vectors_byte_for_byte(name: str) -> None:
    expected, headers, payload = GOLDEN_VECTORS[name]
    assert encode_message(headers, payload) == expected


def test_every_header_type_round_trips_through_botocore() -> None:
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    headers = {
        "yes": True,
        "no": False,
        "byte": TypedHeader(HeaderType.BYTE, -128),
        "short": TypedHeader(HeaderType.SHORT, 32767),
        "int": -(2**31),
        "long": 2**40,
        "blob": b"\x00\xff",
        "text": "Grüße 🚀",
        "when": when,
        "id": ident,
    }
    [message] = decode_all(encode_message(headers, b"payload"))
    assert message.headers == {
        "yes": True,
        "no": False,
        "byte": -128,
        "short": 32767,
        "int": -(2**31),
        "long": 2**40,
        "blob": b"\x00\xff",
        "text": "Grüße 🚀",
        "when": int(when.timestamp() * 1000),
        "id": ident.bytes,
    }
    assert message.payload == b"payload"


def test_messages_split_at_every_byte_offset_still_parse() -> None:
    stream = event_message("chunk", b'{"bytes":"aGk="}') + exception_message("throttlingException", "slow down")
    for cut in range(1, len(stream)):
        buffer = EventStreamBuffer()
        buffer.add_data(stream[:cut])
        early = list(buffer)
        buffer.add_data(stream[cut:])
        messages = early + list(buffer)
        assert [m.headers.get(":event-type") or m.headers.get(":exception-type") for m in messages] == [
            "chunk",
            "throttlingException",
        ]


def test_a_stream_fed_one_byte_at_a_time_parses() -> None:
    stream = b"".join(event_message("chunk", json.dumps({"n": n}).encode()) for n in range(5))
    buffer = EventStreamBuffer()
    seen = []
    for i in range(len(stream)):
        buffer.add_data(stream[i : i + 1])
        seen.extend(json.loads(m.payload)["n"] for m in buffer)
    assert seen == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("position", [0, 5, 9, 14, 30, -5, -1])
def test_any_corrupted_byte_fails_botocores_crc_check(position: int) -> None:
    # Positions: total length, headers length, prelude crc, headers, payload, payload end, message crc.
    # botocore checks the prelude crc as soon as 12 bytes arrive, so even a corrupted length fails the check.
    message = bytearray(event_message("chunk", b'{"bytes":"aGVsbG8="}'))
    message[position] ^= 0x01
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(message))
    with pytest.raises(ChecksumMismatch):
        list(buffer)


def test_helpers_carry_the_headers_botocore_dispatches_on() -> None:
    event, exception, error = decode_all(
        event_message("chunk", b"{}")
        + exception_message("ModelStreamError", "broken", message_key="Message", ErrorCode="StreamBroken")
        + error_message("InternalFailure", "oops")
    )
    assert event.headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    assert exception.headers[":message-type"] == "exception"
    assert exception.headers[":exception-type"] == "ModelStreamError"
    assert json.loads(exception.payload) == {"Message": "broken", "ErrorCode": "StreamBroken"}
    assert error.to_response_dict()["status_code"] == 400
    assert error.headers == {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "oops"}


@pytest.mark.parametrize(
    "headers, payload",
    [
        ({"x" * (MAX_HEADER_NAME_LENGTH + 1): "v"}, b""),
        ({"": "v"}, b""),
        ({"s": "x" * (MAX_HEADER_VALUE_LENGTH + 1)}, b""),
        ({"b": TypedHeader(HeaderType.BYTE, 128)}, b""),
        ({"u": TypedHeader(HeaderType.UUID, b"short")}, b""),
        ({"t": dt.datetime(2024, 1, 1)}, b""),  # naive: no instant
        ({"f": 1.5}, b""),
        ({}, b"x" * (MAX_PAYLOAD_LENGTH + 1)),
    ],
    ids=["long name", "empty name", "long string", "byte overflow", "bad uuid", "naive time", "float", "big payload"],
)
def test_values_botocore_could_not_decode_are_refused(headers: dict, payload: bytes) -> None:
    with pytest.raises(EventStreamEncodeError):
        encode_message(headers, payload)
