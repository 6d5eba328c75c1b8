"""A message's content in each wire format that carries attachments: the text plus image and document blocks.

| upstream | images | documents |
|---|---|---|
| ConverseStream (`image`/`document` blocks, raw bytes) | png jpeg gif webp | pdf txt md csv html doc(x) xls(x) |
| Bedrock invoke, Nova (the same blocks, base64 in the JSON body) | png jpeg gif webp | the same |
| Bedrock invoke, Anthropic Messages (base64 blocks) | png jpeg gif webp | pdf; txt md csv html as text |
| OpenAI-compatible chat (`image_url` parts with a data URL) | png jpeg gif webp | none |

Attachments go before the text, as the vendors advise. `lambdas.providers.tools` puts these blocks into each
message it renders; a message without attachments renders exactly as before (a string for OpenAI).
"""

from __future__ import annotations

import base64
from typing import Any, Final

from lambdas import catalogue
from lambdas.attachments.formats import BY_FORMAT, DOCUMENT, IMAGE, TEXT_FORMATS, document_name
from lambdas.catalogue import ModelSpec
from lambdas.providers.base import Message
from lambdas.providers.content import Attachment

_ALL_DOCUMENTS: Final = frozenset({"pdf", "txt", "md", "csv", "html", "doc", "docx", "xls", "xlsx"})
_IMAGES: Final = frozenset({"png", "jpeg", "gif", "webp"})

ACCEPTED_FORMATS: Final[dict[str, dict[str, frozenset[str]]]] = {
    "converse": {IMAGE: _IMAGES, DOCUMENT: _ALL_DOCUMENTS},
    "anthropic": {IMAGE: _IMAGES, DOCUMENT: frozenset({"pdf"}) | TEXT_FORMATS},
    "openai": {IMAGE: _IMAGES, DOCUMENT: frozenset()},
}
"""What each rendering below can carry."""


def rendering(spec: ModelSpec) -> str | None:
    """Which rendering a model's requests use, or None when its wire format cannot carry attachments."""
    if spec.provider == catalogue.BEDROCK_CONVERSE:
        return "converse"
    if spec.provider == catalogue.BEDROCK and spec.family == catalogue.NOVA:
        return "converse"
    if spec.provider == catalogue.BEDROCK and spec.family == catalogue.ANTHROPIC_MESSAGES:
        return "anthropic"
    if spec.provider == catalogue.OPENAI:
        return "openai"
    return None


def accepted_formats(spec: ModelSpec, kind: str) -> frozenset[str]:
    """The formats of `kind` a model takes: its catalogue's `attachments` allow the kind, its wire format the
    format."""
    name = rendering(spec)
    if name is None or kind not in spec.attachments:
        return frozenset()
    return ACCEPTED_FORMATS[name][kind]


def converse_blocks(message: Message, *, base64_bytes: bool = False) -> list[dict[str, Any]]:
    """Converse image and document blocks. boto3 takes raw bytes (and base64-encodes them itself); Nova's invoke
    body is JSON written by us, so there the bytes are base64 text."""
    blocks: list[dict[str, Any]] = []
    for index, attachment in enumerate(message.attachments):
        data: Any = base64.b64encode(attachment.data).decode("ascii") if base64_bytes else attachment.data
        if attachment.kind == IMAGE:
            blocks.append({"image": {"format": attachment.format, "source": {"bytes": data}}})
        else:
            name = document_name(attachment.name, index)
            blocks.append({"document": {"format": attachment.format, "name": name, "source": {"bytes": data}}})
    return blocks


def anthropic_blocks(message: Message) -> list[dict[str, Any]]:
    """Anthropic Messages blocks: base64 images and PDFs; text documents as text sources, titled with the file
    name."""
    blocks: list[dict[str, Any]] = []
    for attachment in message.attachments:
        media_type = BY_FORMAT[attachment.format].content_type
        if attachment.kind == IMAGE:
            source = {"type": "base64", "media_type": media_type, "data": _base64(attachment)}
            blocks.append({"type": "image", "source": source})
        elif attachment.format in TEXT_FORMATS:
            source = {"type": "text", "media_type": "text/plain", "data": attachment.data.decode("utf-8")}
            blocks.append({"type": "document", "source": source, "title": attachment.name})
        else:
            source = {"type": "base64", "media_type": media_type, "data": _base64(attachment)}
            blocks.append({"type": "document", "source": source, "title": attachment.name})
    return blocks


def openai_content(message: Message) -> str | list[dict[str, Any]]:
    """OpenAI chat content of a user message: the plain string without attachments; else `image_url` data URLs
    and a text part."""
    if not message.attachments:
        return message.text
    parts: list[dict[str, Any]] = []
    for attachment in message.attachments:
        media_type = BY_FORMAT[attachment.format].content_type
        parts.append({"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{_base64(attachment)}"}})
    parts.append({"type": "text", "text": message.text})
    return parts


def _base64(attachment: Attachment) -> str:
    return base64.b64encode(attachment.data).decode("ascii")
