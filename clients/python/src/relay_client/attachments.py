"""Attachments (issue 15): what the relay accepts, the checks made before anything is uploaded, and the upload.

`attach` asks the relay for a presigned POST (`{"action": "attach", ...}` → an `upload` frame with `url` and
`fields`); the bytes then go there in an ordinary multipart/form-data POST, never over the WebSocket. The upload
uses the standard library (urllib in a worker thread), so the package keeps its one dependency.
"""

from __future__ import annotations

import mimetypes
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

Kind = Literal["image", "document"]

IMAGE_MAX_BYTES = 3_750_000
DOCUMENT_MAX_BYTES = 4_500_000

ATTACHMENT_TYPES: dict[str, tuple[Kind, int]] = {
    "image/png": ("image", IMAGE_MAX_BYTES),
    "image/jpeg": ("image", IMAGE_MAX_BYTES),
    "image/gif": ("image", IMAGE_MAX_BYTES),
    "image/webp": ("image", IMAGE_MAX_BYTES),
    "application/pdf": ("document", DOCUMENT_MAX_BYTES),
    "text/plain": ("document", DOCUMENT_MAX_BYTES),
    "text/markdown": ("document", DOCUMENT_MAX_BYTES),
    "text/csv": ("document", DOCUMENT_MAX_BYTES),
    "text/html": ("document", DOCUMENT_MAX_BYTES),
    "application/msword": ("document", DOCUMENT_MAX_BYTES),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("document", DOCUMENT_MAX_BYTES),
    "application/vnd.ms-excel": ("document", DOCUMENT_MAX_BYTES),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", DOCUMENT_MAX_BYTES),
}
"""Content type → (kind, largest size in bytes), as docs/protocol.md's `attach` states them."""

_BY_EXTENSION = {".md": "text/markdown", ".markdown": "text/markdown", ".webp": "image/webp", ".csv": "text/csv"}


@dataclass(frozen=True, slots=True)
class Attachment:
    """An uploaded file: pass `attachment_id` in `ask(attachments=[...])`."""

    attachment_id: str
    file_name: str
    content_type: str
    size: int
    expires_in: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a file cannot be attached: `reason` is wrong_type, too_big or empty."""

    reason: str
    message: str


def content_type_for(file_name: str) -> str:
    """The content type a file name suggests ("" when none is known)."""
    suffix = PurePath(file_name).suffix.lower()
    return _BY_EXTENSION.get(suffix) or mimetypes.guess_type(file_name)[0] or ""


def check(file_name: str, content_type: str, size: int, kinds: tuple[str, ...] | None = None) -> Problem | None:
    """A Problem when the relay would refuse the file (type, size, or a kind the model does not take)."""
    rule = ATTACHMENT_TYPES.get(content_type.split(";")[0].strip().lower())
    if rule is None:
        return Problem(
            "wrong_type",
            f"{file_name}: {content_type or 'this type of file'} cannot be attached "
            "(images: png, jpeg, gif, webp; documents: pdf, txt, md, csv, html, doc(x), xls(x))",
        )
    kind, max_bytes = rule
    if kinds is not None and kind not in kinds:
        return Problem("wrong_type", f"{file_name}: this model takes no {kind}s")
    if size == 0:
        return Problem("empty", f"{file_name} is empty")
    if size > max_bytes:
        size_mb, limit_mb = size / 1e6, max_bytes / 1e6
        return Problem("too_big", f"{file_name} is {size_mb:.2f} MB; {kind}s may be at most {limit_mb:.2f} MB")
    return None


def multipart(fields: dict[str, Any], file_name: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with the presigned fields first and the file last (S3 ignores fields after it);
    returns (body, Content-Type header)."""
    boundary = "relay-" + secrets.token_hex(16)
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    quoted = file_name.replace('"', "%22").replace("\r", "").replace("\n", "")
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
    )
    chunks += [data, f"\r\n--{boundary}--\r\n".encode()]
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def post(url: str, body: bytes, content_type: str, timeout: float) -> int:
    """POST the form; the HTTP status (raises OSError when nothing answered)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # the relay's presigned URL
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
