"""Encoder for the AWS event-stream framing (`application/vnd.amazon.eventstream`).

Bedrock's InvokeModelWithResponseStream / ConverseStream and SageMaker's InvokeEndpointWithResponseStream answer
with a body of these binary messages; the simulated upstream writes them so that botocore's own parser
(`botocore.eventstream.EventStreamBuffer`) reads them exactly as it reads AWS.

Wire layout (big-endian)::

    total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload | message_crc u32

`prelude_crc` is the CRC32 of the first 8 bytes. `message_crc` is the CRC32 of every byte before it; botocore
computes it by continuing from `prelude_crc` over bytes 8.., which is the same number.
A header is `name_len u8 | name (utf-8) | type u8 | value`, with the value layout chosen by the type byte.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

CONTENT_TYPE: Final = "application/vnd.amazon.eventstream"

PRELUDE_LENGTH: Final = 12
"""total_length + headers_length + prelude_crc."""
MESSAGE_CRC_LENGTH: Final = 4
MAX_HEADERS_LENGTH: Final = 128 * 1024
"""botocore refuses a message whose headers are longer (`InvalidHeadersLength`)."""
MAX_PAYLOAD_LENGTH: Final = 24 * 1024 * 1024
"""botocore refuses a message whose payload is longer (`InvalidPayloadLength`)."""
MAX_HEADER_NAME_LENGTH: Final = 255
"""The name length is one unsigned byte."""
MAX_HEADER_VALUE_LENGTH: Final = 65_535
"""String and byte-array values carry a u16 length."""
UUID_LENGTH: Final = 16

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_PRELUDE = struct.Struct(">II")


class EventStreamEncodeError(ValueError):
    """A header or payload that cannot be framed (out of range, too long, wrong type)."""


class HeaderType(IntEnum):
    """The type byte of a header value, as numbered in botocore's `_HEADER_TYPE_MAP`."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    SHORT = 3
    INTEGER = 4
    LONG = 5
    BYTE_ARRAY = 6
    STRING = 7
    TIMESTAMP = 8
    """Milliseconds since the epoch, int64 (botocore decodes it as a plain int)."""
    UUID = 9


@dataclass(frozen=True, slots=True)
class TypedHeader:
    """A header value with an explicit wire type, for the types a plain Python value cannot pick by itself
    (e.g. `TypedHeader(HeaderType.SHORT, -1)`)."""

    type: HeaderType
    value: object = None


HeaderValue = str | bytes | bool | int | uuid.UUID | dt.datetime | TypedHeader
"""Plain values map to: str → string, bytes → byte array, bool → bool, int → integer (long when it does not
fit in 32 bits), UUID → uuid, aware datetime → timestamp. Anything else: wrap it in `TypedHeader`."""


def _fixed(fmt: str) -> Callable[[object], bytes]:
    packer = struct.Struct(fmt)

    def pack(value: object) -> bytes:
        try:
            return packer.pack(value)
        except struct.error as exc:
            raise EventStreamEncodeError(f"value {value!r} does not fit the {fmt!r} layout: {exc}") from exc

    return pack


def _length_prefixed(data: bytes) -> bytes:
    if len(data) > MAX_HEADER_VALUE_LENGTH:
        raise EventStreamEncodeError(f"header value of {len(data)} bytes exceeds {MAX_HEADER_VALUE_LENGTH}")
    return _U16.pack(len(data)) + data


def _encode_bytes(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise EventStreamEncodeError(f"byte-array header needs bytes, got {type(value).__name__}")
    return _length_prefixed(bytes(value))


def _encode_string(value: object) -> bytes:
    if not isinstance(value, str):
        raise EventStreamEncodeError(f"string header needs str, got {type(value).__name__}")
    return _length_prefixed(value.encode("utf-8"))


def _encode_timestamp(value: object) -> bytes:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            # A naive datetime has no defined instant; guessing local time would shift it silently.
            raise EventStreamEncodeError("timestamp header needs a timezone-aware datetime")
        value = round(value.timestamp() * 1000)
    return _fixed(">q")(value)


def _encode_uuid(value: object) -> bytes:
    raw = value.bytes if isinstance(value, uuid.UUID) else value
    if not isinstance(raw, bytes) or len(raw) != UUID_LENGTH:
        raise EventStreamEncodeError(f"uuid header needs a UUID or {UUID_LENGTH} bytes, got {value!r}")
    return raw


def _no_value(_: object) -> bytes:
    return b""


_VALUE_ENCODERS: Final[dict[HeaderType, Callable[[object], bytes]]] = {
    HeaderType.BOOL_TRUE: _no_value,
    HeaderType.BOOL_FALSE: _no_value,
    HeaderType.BYTE: _fixed(">b"),
    HeaderType.SHORT: _fixed(">h"),
    HeaderType.INTEGER: _fixed(">i"),
    HeaderType.LONG: _fixed(">q"),
    HeaderType.BYTE_ARRAY: _encode_bytes,
    HeaderType.STRING: _encode_string,
    HeaderType.TIMESTAMP: _encode_timestamp,
    HeaderType.UUID: _encode_uuid,
}

_INT32_RANGE: Final = range(-(2**31), 2**31)


def _typed(value: HeaderValue) -> TypedHeader:
    # bool before int: bool is a subclass of int.
    if isinstance(value, TypedHeader):
        return value
    if isinstance(value, bool):
        return TypedHeader(HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE)
    if isinstance(value, int):
        return TypedHeader(HeaderType.INTEGER if value in _INT32_RANGE else HeaderType.LONG, value)
    if isinstance(value, str):
        return TypedHeader(HeaderType.STRING, value)
    if isinstance(value, bytes | bytearray):
        return TypedHeader(HeaderType.BYTE_ARRAY, bytes(value))
    if isinstance(value, uuid.UUID):
        return TypedHeader(HeaderType.UUID, value)
    if isinstance(value, dt.datetime):
        return TypedHeader(HeaderType.TIMESTAMP, value)
    raise EventStreamEncodeError(f"no event-stream header type for {type(value).__name__}")


def encode_header(name: str, value: HeaderValue) -> bytes:
    """One header: `name_len u8 | name | type u8 | value`."""
    raw_name = name.encode("utf-8")
    if not 0 < len(raw_name) <= MAX_HEADER_NAME_LENGTH:
        raise EventStreamEncodeError(f"header name must be 1..{MAX_HEADER_NAME_LENGTH} bytes, got {name!r}")
    typed = _typed(value)
    return _U8.pack(len(raw_name)) + raw_name + _U8.pack(typed.type) + _VALUE_ENCODERS[typed.type](typed.value)


def encode_headers(headers: Mapping[str, HeaderValue]) -> bytes:
    return b"".join(encode_header(name, value) for name, value in headers.items())


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes = b"") -> bytes:
    """Frame one event-stream message."""
    header_bytes = encode_headers(headers)
    if len(header_bytes) > MAX_HEADERS_LENGTH:
        raise EventStreamEncodeError(f"headers of {len(header_bytes)} bytes exceed {MAX_HEADERS_LENGTH}")
    if len(payload) > MAX_PAYLOAD_LENGTH:
        raise EventStreamEncodeError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_LENGTH}")
    total_length = PRELUDE_LENGTH + len(header_bytes) + len(payload) + MESSAGE_CRC_LENGTH
    prelude = _PRELUDE.pack(total_length, len(header_bytes))
    prelude_crc = zlib.crc32(prelude)
    body = prelude + _U32.pack(prelude_crc) + header_bytes + payload
    return body + _U32.pack(zlib.crc32(body))


def json_bytes(obj: object) -> bytes:
    """Compact UTF-8 JSON, the way AWS services write event payloads."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_message(event_type: str, payload: bytes, content_type: str = "application/json") -> bytes:
    """A modeled event: botocore yields `{event_type: <parsed payload>}` while iterating."""
    return encode_message(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"},
        payload,
    )


def exception_message(exception_type: str, message: str, *, message_key: str = "message", **fields: object) -> bytes:
    """A modeled exception: botocore raises `EventStreamError` with `Code == exception_type`.

    Bedrock members spell it `message`; SageMaker's `ModelStreamError` spells it `Message` (pass `message_key`).
    """
    payload = json_bytes({message_key: message, **fields})
    return encode_message(
        {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"},
        payload,
    )


def error_message(code: str, message: str) -> bytes:
    """An unmodeled error: botocore raises `EventStreamError` with the code and message from the headers."""
    return encode_message({":message-type": "error", ":error-code": code, ":error-message": message})
