"""What may be attached and how a stored object's real type is told: golden cases, botocore-style."""

from __future__ import annotations

import io
import zipfile

import pytest

from lambdas.attachments.formats import document_name, file_type, sniff


def _zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "<x/>")
    return buffer.getvalue()


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8
POSITIVE = {
    "png": (b"\x89PNG\r\n\x1a\n....", "png"),
    "jpeg": (b"\xff\xd8\xff\xe0....", "jpeg"),
    "gif87": (b"GIF87a....", "gif"),
    "gif89": (b"GIF89a....", "gif"),
    "webp": (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
    "pdf": (b"%PDF-1.7\n", "pdf"),
    "doc": (OLE2, "doc"),
    "xls": (OLE2, "xls"),
    "docx": (_zip("word/document.xml"), "docx"),
    "xlsx": (_zip("xl/workbook.xml"), "xlsx"),
    "txt-utf8": ("Grüße 日本語 🚀".encode(), "txt"),
    "md": (b"# Title\n", "md"),
    "csv": (b"a,b\n1,2\n", "csv"),
    "html": (b"<p>hi</p>", "html"),
}
NEGATIVE = {
    "jpeg-claimed-png": (b"\xff\xd8\xff\xe0....", "png"),
    "riff-not-webp": (b"RIFF\x10\x00\x00\x00WAVEfmt ", "webp"),
    "pdf-claimed-txt": (b"%PDF-1.7\n\x00\x01", "txt"),
    "latin1-claimed-txt": ("Grüße".encode("latin-1"), "txt"),
    "docx-claimed-xlsx": (_zip("word/document.xml"), "xlsx"),
    "zip-not-office": (_zip("hello.txt"), "docx"),
    "truncated-zip": (b"PK\x03\x04 not really", "docx"),
    "ole2-claimed-pdf": (OLE2, "pdf"),
    "unknown-format": (b"anything", "exe"),
    "empty-png": (b"", "png"),
}


@pytest.mark.parametrize(("data", "claimed"), POSITIVE.values(), ids=POSITIVE.keys())
def test_sniff_accepts_the_real_type(data: bytes, claimed: str) -> None:
    assert sniff(data, claimed)


@pytest.mark.parametrize(("data", "claimed"), NEGATIVE.values(), ids=NEGATIVE.keys())
def test_sniff_refuses_another_type(data: bytes, claimed: str) -> None:
    assert not sniff(data, claimed)


def test_content_types_name_kind_and_format_and_ignore_parameters() -> None:
    found = file_type("Text/Plain; charset=utf-8")
    assert found is not None and (found.kind, found.format) == ("document", "txt")
    assert file_type("image/svg+xml") is None


@pytest.mark.parametrize(
    ("name", "index", "expected"),
    [
        ("report.final.pdf", 0, "report final (1)"),
        ("../../etc/passwd", 1, "passwd (2)"),
        ("résumé  2024!!.docx", 0, "r sum 2024 (1)"),
        ("....", 2, "document (3)"),
    ],
)
def test_document_names_are_what_converse_accepts_and_unique(name: str, index: int, expected: str) -> None:
    assert document_name(name, index) == expected
