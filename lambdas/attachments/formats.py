"""What may be attached: content types, their kind and format, size and count limits, and the magic bytes that tell
a stored object's real type (the client's word is never taken for it). Pure: no AWS.

The limits are Bedrock Converse's (the strictest of the upstreams that take attachments): images up to 3.75 MB,
20 per request; documents up to 4.5 MB, 5 per request.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Final

IMAGE: Final = "image"
DOCUMENT: Final = "document"
KINDS: Final = (IMAGE, DOCUMENT)

MAX_BYTES: Final = {IMAGE: 3_750_000, DOCUMENT: 4_500_000}
"""Largest object per kind (Converse: 3.75 MB an image, 4.5 MB a document)."""
MAX_PER_REQUEST: Final = {IMAGE: 20, DOCUMENT: 5}

TEXT_FORMATS: Final = frozenset({"txt", "md", "csv", "html"})
"""Documents that are UTF-8 text: no magic bytes, so they must decode and hold no NUL."""


@dataclass(frozen=True, slots=True)
class FileType:
    kind: str
    format: str
    """Converse's name for the format: `png`, `jpeg`, `pdf`, `docx`, ..."""
    content_type: str


_TYPES: Final = (
    FileType(IMAGE, "png", "image/png"),
    FileType(IMAGE, "jpeg", "image/jpeg"),
    FileType(IMAGE, "gif", "image/gif"),
    FileType(IMAGE, "webp", "image/webp"),
    FileType(DOCUMENT, "pdf", "application/pdf"),
    FileType(DOCUMENT, "txt", "text/plain"),
    FileType(DOCUMENT, "md", "text/markdown"),
    FileType(DOCUMENT, "csv", "text/csv"),
    FileType(DOCUMENT, "html", "text/html"),
    FileType(DOCUMENT, "doc", "application/msword"),
    FileType(DOCUMENT, "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    FileType(DOCUMENT, "xls", "application/vnd.ms-excel"),
    FileType(DOCUMENT, "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
)
BY_CONTENT_TYPE: Final = {file_type.content_type: file_type for file_type in _TYPES}
BY_FORMAT: Final = {file_type.format: file_type for file_type in _TYPES}
CONTENT_TYPES: Final = tuple(BY_CONTENT_TYPE)

_OLE2: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""Compound File Binary: the container of .doc and .xls."""
_ZIP: Final = b"PK\x03\x04"


def file_type(content_type: str) -> FileType | None:
    """The type a client's `contentType` names (parameters such as `; charset=utf-8` ignored), or None."""
    return BY_CONTENT_TYPE.get(content_type.split(";", 1)[0].strip().lower())


def sniff(data: bytes, claimed: str) -> bool:
    """Whether `data` really is of format `claimed` (magic bytes; for text formats, UTF-8 without NUL)."""
    if claimed == "png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if claimed == "jpeg":
        return data.startswith(b"\xff\xd8\xff")
    if claimed == "gif":
        return data.startswith((b"GIF87a", b"GIF89a"))
    if claimed == "webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if claimed == "pdf":
        return data.startswith(b"%PDF-")
    if claimed in ("doc", "xls"):
        return data.startswith(_OLE2)
    if claimed in ("docx", "xlsx"):
        return data.startswith(_ZIP) and _office_part(data, "word/" if claimed == "docx" else "xl/")
    if claimed in TEXT_FORMATS:
        return _is_text(data)
    return False


def _office_part(data: bytes, folder: str) -> bool:
    """An Office Open XML file is a ZIP holding `word/...` (docx) or `xl/...` (xlsx)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return any(name.startswith(folder) for name in archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9\-\(\)\[\] ]+")


def document_name(file_name: str, index: int) -> str:
    """A document's name as Converse accepts it: letters, digits, single spaces, hyphens, parentheses and square
    brackets; unique within the request (the index is appended)."""
    stem = file_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    cleaned = " ".join(_NAME_CHARS.sub(" ", stem).split())[:100] or "document"
    return f"{cleaned} ({index + 1})"
