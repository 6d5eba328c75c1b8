"""What the simulated model received besides text: the image and document blocks of a message, in any wire format
that carries them, read back to (kind, format, size in bytes). The reply's first line acknowledges each one, so a
test can prove the bytes reached the model: `[image png 2048 bytes] [document pdf 5120 bytes]`.

- Converse (ConverseStream, Nova invoke): `{"image": {"format", "source": {"bytes": base64}}}`, likewise
  `{"document": {"format", "name", "source": {"bytes"}}}`;
- Anthropic Messages: `{"type": "image" | "document", "source": {"type": "base64", "media_type", "data"}}`, text
  documents as `{"type": "document", "source": {"type": "text", "data"}, "title": "notes.md"}`;
- OpenAI chat: `{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Final

_FORMATS: Final = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "txt",
}
_TEXT_EXTENSIONS: Final = ("txt", "md", "csv", "html")


@dataclass(frozen=True, slots=True)
class SimAttachment:
    kind: str
    format: str
    size: int

    def acknowledgement(self) -> str:
        return f"[{self.kind} {self.format} {self.size} bytes]"


def _decoded_size(data: Any) -> int:
    if not isinstance(data, str):
        return 0
    try:
        return len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return 0


def _one(block: dict[str, Any]) -> SimAttachment | None:
    for kind in ("image", "document"):  # Converse: the block's one key names it
        inner = block.get(kind)
        if isinstance(inner, dict):
            return SimAttachment(
                kind, str(inner.get("format", "")), _decoded_size((inner.get("source") or {}).get("bytes"))
            )
    kind = block.get("type")
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    if kind in ("image", "document") and source.get("type") == "base64":
        return SimAttachment(kind, _FORMATS.get(str(source.get("media_type")), "?"), _decoded_size(source.get("data")))
    if kind == "document" and source.get("type") == "text":
        extension = str(block.get("title", "")).rsplit(".", 1)[-1].lower()
        text_format = extension if extension in _TEXT_EXTENSIONS else "txt"
        return SimAttachment("document", text_format, len(str(source.get("data", "")).encode("utf-8")))
    if kind == "image_url":
        url = str((block.get("image_url") or {}).get("url", ""))
        header, _, data = url.partition(",")
        media_type = header.removeprefix("data:").split(";", 1)[0]
        return SimAttachment("image", _FORMATS.get(media_type, "?"), _decoded_size(data))
    return None


def block_attachments(content: Any) -> tuple[SimAttachment, ...]:
    """The attachments among a message's content blocks (none for plain text content)."""
    if not isinstance(content, list):
        return ()
    found = (_one(block) for block in content if isinstance(block, dict))
    return tuple(attachment for attachment in found if attachment is not None)
