"""Plain Python values to DynamoDB attribute values and back, with boto3's own serializers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

MAX_PART_BYTES = 300_000
"""Text stored per item: DynamoDB's limit is 400 KB an item, attribute names and the other fields included."""


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    return value


def split_utf8(text: str, max_bytes: int = MAX_PART_BYTES) -> list[str]:
    """`text` in pieces of at most `max_bytes` UTF-8 bytes, cut between code points; at least one piece."""
    pieces: list[str] = []
    start = size = 0
    for index, char in enumerate(text):
        width = len(char.encode("utf-8", "replace"))
        if size + width > max_bytes:
            pieces.append(text[start:index])
            start, size = index, 0
        size += width
    pieces.append(text[start:])
    return pieces
