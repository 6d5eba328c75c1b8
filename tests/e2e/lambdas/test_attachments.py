"""Attachments end to end (issue 15): `attach` over the WebSocket, the presigned POST to localgw's S3 (moto) with
`requests` and curl, then `sendtext` with the attachment ids. The simulator's first reply line acknowledges what
reached it (`[image png 2048 bytes]`), so each test sees the bytes arrive at the model, or the refusal that stops
them.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
import uuid
import zipfile
from typing import Any

import pytest
import requests

from lambdas.store import keys
from tests.conftest import RECV_TIMEOUT
from tests.e2e.client import answer_text, ask, recv, send

FAST = "[[sim rate=inf ttft=0]]"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _padded(head: bytes, size: int) -> bytes:
    return head + bytes(range(256)) * (size // 256) + b"\x01" * size


def _zip(folder: str, size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{folder}/document.xml", "<x/>" * (size // 4))
    return buffer.getvalue()


def sample(file_format: str, size: int = 2048) -> bytes:
    """A file of `file_format` with the right magic bytes (exactly `size` bytes, zips aside)."""
    heads = {
        "png": b"\x89PNG\r\n\x1a\n",
        "jpeg": b"\xff\xd8\xff\xe0",
        "gif": b"GIF89a",
        "webp": b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        "pdf": b"%PDF-1.7\n",
        "doc": OLE2,
        "xls": OLE2,
    }
    if file_format in heads:
        return _padded(heads[file_format], size)[:size]
    if file_format == "docx":
        return _zip("word", size)
    if file_format == "xlsx":
        return _zip("xl", size)
    text = {"txt": "plain text ", "md": "# A title\n\n", "csv": "a,b\n1,2\n", "html": "<p>hello</p>\n"}[file_format]
    return (text * size).encode()[:size]


CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "html": "text/html",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
IMAGES = ("png", "jpeg", "gif", "webp")


def attach(ws, file_name: str, content_type: str, size: int) -> dict[str, Any]:
    send(ws, {"action": "attach", "fileName": file_name, "contentType": content_type, "size": size})
    return recv(ws)


def post(upload: dict[str, Any], data: bytes, content_type: str) -> requests.Response:
    """The browser-form POST any client makes: the signed fields, then the file."""
    return requests.post(
        upload["url"], data=upload["fields"], files={"file": ("f", data, content_type)}, timeout=RECV_TIMEOUT
    )


def uploaded(ws, file_format: str, data: bytes | None = None, *, declared: str | None = None) -> str:
    """Attach and upload one file; its attachment id."""
    data = sample(file_format) if data is None else data
    content_type = CONTENT_TYPES[declared or file_format]
    upload = attach(ws, f"file.{file_format}", content_type, len(data))
    assert upload["type"] == "upload", upload
    assert post(upload, data, content_type).status_code == 204
    return upload["attachmentId"]


def first_line(frames: list[dict[str, Any]]) -> str:
    assert frames[-1]["type"] == "done", frames[-1]
    return answer_text(frames).split("\n", 1)[0]


def refusal(frames: list[dict[str, Any]]) -> dict[str, Any]:
    (frame,) = frames
    assert frame["type"] == "error" and "seq" not in frame, frame
    return frame


def test_the_upload_frame_is_a_presigned_post_into_the_callers_own_prefix(connect, relay_gateway):
    upload = attach(connect(), "cat.png", "image/png", 2048)
    assert set(upload) == {"type", "attachmentId", "url", "fields", "expiresIn"}
    assert upload["url"].startswith(relay_gateway.gateway.s3.url)
    assert upload["fields"]["key"].startswith("attachments/")
    assert upload["fields"]["key"].endswith(upload["attachmentId"])
    assert upload["fields"]["Content-Type"] == "image/png"
    assert 0 < upload["expiresIn"] <= 900


@pytest.mark.parametrize("file_format", CONTENT_TYPES)
def test_every_type_reaches_a_converse_model(connect, file_format):
    ws = connect()
    data = sample(file_format)
    attachment_id = uploaded(ws, file_format, data)
    frames = ask(ws, f"what is this? {FAST}", model="converse", attachments=[attachment_id])
    kind = "image" if file_format in IMAGES else "document"
    assert first_line(frames) == f"[{kind} {file_format} {len(data)} bytes]"
    assert answer_text(frames).split("\n", 1)[1].startswith("Turn 1. You said: what is this?")


def test_images_and_documents_reach_an_anthropic_messages_model_in_order(connect):
    ws = connect()
    ids = [uploaded(ws, "png"), uploaded(ws, "pdf", sample("pdf", 5120)), uploaded(ws, "md", sample("md", 300))]
    frames = ask(ws, f"compare them {FAST}", model="claude", attachments=ids)
    assert first_line(frames) == "[image png 2048 bytes] [document pdf 5120 bytes] [document md 300 bytes]"


def test_an_image_reaches_an_openai_compatible_vision_model_as_a_data_url(connect):
    ws = connect()
    frames = ask(ws, f"describe {FAST}", model="openai", attachments=[uploaded(ws, "jpeg")])
    assert first_line(frames) == "[image jpeg 2048 bytes]"


def test_curl_uploads_with_the_signed_fields(connect):
    ws = connect()
    data = sample("gif", 4096)
    upload = attach(ws, "anim.gif", "image/gif", len(data))
    form = [arg for name, value in upload["fields"].items() for arg in ("-F", f"{name}={value}")]
    result = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", *form, "-F", "file=@-;type=image/gif", upload["url"]],
        input=data,
        capture_output=True,
        timeout=RECV_TIMEOUT,
        check=True,
    )
    assert result.stdout == b"204"
    frames = ask(ws, f"gif {FAST}", model="converse", attachments=[upload["attachmentId"]])
    assert first_line(frames) == "[image gif 4096 bytes]"


def test_history_lists_the_attachments_and_the_next_turn_sends_them_again(connect):
    ws = connect()
    attachment_id = uploaded(ws, "png")
    first = ask(ws, f"look {FAST}", model="converse", attachments=[attachment_id])
    conversation = first[0]["conversationId"]
    second = ask(ws, f"and again {FAST}", model="converse", conversationId=conversation)
    assert first_line(second) == "[image png 2048 bytes]"  # the earlier turn's image, sent with the history
    send(ws, {"action": "history", "conversationId": conversation})
    turns = recv(ws)["turns"]
    assert turns[0]["attachments"] == [
        {"attachmentId": attachment_id, "kind": "image", "format": "png", "name": "file.png", "size": 2048}
    ]
    assert all("attachments" not in turn for turn in turns[1:])


def test_models_frame_says_which_models_take_attachments(connect):
    ws = connect()
    send(ws, {"action": "models"})
    models = {model["id"]: model["attachments"] for model in recv(ws)["models"]}
    assert models["converse"] == ["image", "document"]
    assert models["claude"] == ["image", "document"]
    assert models["openai"] == ["image"]
    assert models["llama"] == []


ATTACH_REFUSALS = {
    "image-over-3.75-mb": (("big.png", "image/png", 3_750_001), "size"),
    "document-over-4.5-mb": (("big.pdf", "application/pdf", 4_500_001), "size"),
    "unknown-type": (("prog.exe", "application/x-msdownload", 100), "contentType"),
    "zero-bytes": (("empty.txt", "text/plain", 0), "size"),
}


@pytest.mark.parametrize(("fields", "field"), ATTACH_REFUSALS.values(), ids=ATTACH_REFUSALS.keys())
def test_attach_refuses_a_type_or_size_it_cannot_take(connect, fields, field):
    frame = attach(connect(), *fields)
    assert frame["type"] == "error" and frame["code"] == "bad_request"
    assert frame["field"] == field


def test_s3_refuses_an_upload_of_another_size_or_type_than_signed(connect):
    ws = connect()
    upload = attach(ws, "a.png", "image/png", 2048)
    too_big = post(upload, sample("png", 2049), "image/png")
    assert too_big.status_code == 400 and "EntityTooLarge" in too_big.text
    too_small = post(upload, sample("png", 2047), "image/png")
    assert too_small.status_code == 400 and "EntityTooSmall" in too_small.text
    other_type = {**upload, "fields": {**upload["fields"], "Content-Type": "text/html"}}
    refused = post(other_type, sample("png"), "text/html")
    assert refused.status_code == 403 and "AccessDenied" in refused.text


def test_s3_refuses_an_unsigned_upload_into_the_private_bucket(connect, relay_gateway):
    upload = attach(connect(), "a.png", "image/png", 2048)
    unsigned = {"key": upload["fields"]["key"], "Content-Type": "image/png"}
    refused = post({**upload, "fields": unsigned}, sample("png"), "image/png")
    assert refused.status_code == 403 and "AccessDenied" in refused.text


def test_bytes_that_are_not_the_declared_type_are_refused(connect):
    ws = connect()
    not_a_png = uploaded(ws, "jpeg", declared="png")
    frame = refusal(ask(ws, f"hi {FAST}", model="converse", attachments=[not_a_png]))
    assert frame["code"] == "bad_request" and frame["field"] == "attachments"
    assert "not a png" in frame["message"]


def test_binary_bytes_declared_as_text_are_refused(connect):
    ws = connect()
    attachment_id = uploaded(ws, "pdf", declared="txt")
    frame = refusal(ask(ws, f"hi {FAST}", model="converse", attachments=[attachment_id]))
    assert frame["field"] == "attachments" and "not a txt" in frame["message"]


def test_a_model_that_takes_no_attachments_refuses_them(connect):
    ws = connect()
    frame = refusal(ask(ws, f"hi {FAST}", model="llama", attachments=[uploaded(ws, "png")]))
    assert frame["code"] == "bad_request" and frame["field"] == "attachments"


def test_a_format_the_model_does_not_take_is_refused(connect):
    ws = connect()
    frame = refusal(ask(ws, f"hi {FAST}", model="claude", attachments=[uploaded(ws, "docx")]))
    assert frame["field"] == "attachments" and "docx" in frame["message"]


def test_more_than_five_documents_are_refused(connect):
    ws = connect()
    ids = [uploaded(ws, "txt", sample("txt", 10)) for _ in range(6)]
    frame = refusal(ask(ws, f"hi {FAST}", model="converse", attachments=ids))
    assert frame["field"] == "attachments" and "at most 5" in frame["message"]


def test_another_users_attachment_is_forbidden(connect):
    alice, bob = connect(), connect()
    alices = uploaded(alice, "png")
    frame = refusal(ask(bob, f"hi {FAST}", model="converse", attachments=[alices]))
    assert frame["code"] == "forbidden"


def test_an_unknown_attachment_is_not_found(connect):
    frame = refusal(ask(connect(), f"hi {FAST}", model="converse", attachments=["a-no-such-id"]))
    assert frame["code"] == "not_found"


def test_an_attachment_never_uploaded_is_not_found(connect):
    ws = connect()
    upload = attach(ws, "a.png", "image/png", 2048)
    frame = refusal(ask(ws, f"hi {FAST}", model="converse", attachments=[upload["attachmentId"]]))
    assert frame["code"] == "not_found" and "never uploaded" in frame["message"]


def test_an_expired_upload_is_not_found(connect, relay_gateway):
    ws = connect()
    attachment_id = uploaded(ws, "png")
    # A day passes (attachmentTtlDays): the record's expiry is behind us (TTL and the lifecycle rule delete later).
    relay_gateway.gateway.dynamodb.client().update_item(
        TableName=relay_gateway.gateway.table_name,
        Key=keys.attachment(attachment_id),
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    frame = refusal(ask(ws, f"hi {FAST}", model="converse", attachments=[attachment_id]))
    assert frame["code"] == "not_found" and "expired" in frame["message"]


def test_an_upload_deleted_by_the_lifecycle_rule_is_not_found(connect, relay_gateway):
    ws = connect()
    attachment_id = uploaded(ws, "png")
    s3 = relay_gateway.gateway.s3.client()
    bucket = relay_gateway.gateway.attachments_bucket
    for found in s3.list_objects_v2(Bucket=bucket, Prefix="attachments/")["Contents"]:
        if found["Key"].endswith(attachment_id):
            s3.delete_object(Bucket=bucket, Key=found["Key"])
    frame = refusal(ask(ws, f"hi {FAST}", model="converse", attachments=[attachment_id]))
    assert frame["code"] == "not_found"


def test_attachments_travel_with_a_text_sent_in_parts(connect):
    ws = connect()
    attachment_id = uploaded(ws, "webp")
    request_id = f"p{uuid.uuid4().hex[:10]}"
    for index, piece in enumerate(["with an ", f"image {FAST}"]):
        ws.send(json.dumps({"action": "sendtext", "requestId": request_id, "part": index, "parts": 2, "text": piece,
                            "model": "converse", "attachments": [attachment_id]}))  # fmt: skip
    frames = [recv(ws)]
    while frames[-1]["type"] not in ("done", "error"):
        frames.append(recv(ws))
    assert first_line(frames) == "[image webp 2048 bytes]"
