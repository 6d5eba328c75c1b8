"""Attachments in each wire format's request (lambdas/providers/content.py), and text-only requests unchanged."""

from __future__ import annotations

import base64

from lambdas.providers.base import Attachment, Message, ModelRequest
from lambdas.providers.bedrock_converse import converse_arguments
from lambdas.providers.formats.anthropic_messages import AnthropicMessages
from lambdas.providers.formats.nova import Nova
from lambdas.providers.formats.openai_chat import request_body

PNG = Attachment("image", "png", "cat.png", b"\x89PNG\r\n\x1a\nxx", "a1")
PDF = Attachment("document", "pdf", "report.pdf", b"%PDF-1.7", "a2")
MD = Attachment("document", "md", "notes.md", "# Grüße".encode(), "a3")


def _request(*attachments: Attachment) -> ModelRequest:
    return ModelRequest((Message("user", "look", attachments=attachments),), max_tokens=10)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_text_only_requests_keep_their_shape() -> None:
    request = _request()
    assert AnthropicMessages().body(request)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "look"}]}
    ]
    assert converse_arguments("m", request)["messages"] == [{"role": "user", "content": [{"text": "look"}]}]
    assert request_body("m", request)["messages"] == [{"role": "user", "content": "look"}]


def test_converse_sends_raw_bytes_and_nova_invoke_base64_text() -> None:
    request = _request(PNG, PDF)
    assert converse_arguments("m", request)["messages"][0]["content"] == [
        {"image": {"format": "png", "source": {"bytes": PNG.data}}},
        {"document": {"format": "pdf", "name": "report (2)", "source": {"bytes": PDF.data}}},
        {"text": "look"},
    ]
    nova = Nova().body(request)["messages"][0]["content"]
    assert nova[0] == {"image": {"format": "png", "source": {"bytes": _b64(PNG.data)}}}
    assert nova[1]["document"]["source"] == {"bytes": _b64(PDF.data)}


def test_anthropic_messages_sends_base64_images_and_pdfs_and_text_documents_as_text() -> None:
    content = AnthropicMessages().body(_request(PNG, PDF, MD))["messages"][0]["content"]
    assert content == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": _b64(PNG.data)}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": _b64(PDF.data)},
            "title": "report.pdf",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "# Grüße"},
            "title": "notes.md",
        },
        {"type": "text", "text": "look"},
    ]


def test_openai_sends_images_as_data_urls() -> None:
    content = request_body("m", _request(PNG))["messages"][0]["content"]
    assert content == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{_b64(PNG.data)}"}},
        {"type": "text", "text": "look"},
    ]
