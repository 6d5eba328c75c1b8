"""Attachments on the chat page (issue 15) in Chromium: the attach button, drag-and-drop and paste of images,
thumbnails, and per-file errors before anything is uploaded — then, with the relay's `attach` (branch
s1-long-input), an image that reaches the model. That last test fails against a relay without `attach`."""

from __future__ import annotations

import base64
from typing import Any

from tests.web.conftest import send_message, wait_finished

FAST = "[[sim rate=100000 ttft=0]]"


def png(size: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(size - 8)


def watch_frames(page: Any, sent: list[str]) -> None:
    page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(str(payload))))


def file_in_page(page: Any, name: str, mime: str, data: bytes) -> None:
    """Put a File in `window.testFile` (for synthetic paste and drop events)."""
    page.evaluate(
        """([name, mime, b64]) => {
             const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
             window.testFile = new File([bytes], name, { type: mime });
           }""",
        [name, mime, base64.b64encode(data).decode()],
    )


def test_wrong_type_and_too_big_files_show_their_errors_and_nothing_is_uploaded(open_page):
    sent: list[str] = []
    page = open_page(before_goto=lambda page: watch_frames(page, sent))
    page.set_input_files(
        "#attach-input",
        files=[
            {"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ"},
            {"name": "huge.png", "mimeType": "image/png", "buffer": png(3_800_000)},
            {"name": "dot.png", "mimeType": "image/png", "buffer": png(2048)},
        ],
    )
    tray = page.locator("#attachments")
    assert tray.is_visible()
    errors = tray.locator(".attachment.has-error [role=alert]")
    assert errors.count() == 2
    assert "tool.exe" in errors.nth(0).text_content() and "cannot be attached" in errors.nth(0).text_content()
    assert "huge.png is 3.80 MB; images may be at most 3.75 MB" in errors.nth(1).text_content()
    thumbnail = tray.locator(".attachment:not(.has-error) img.thumbnail")
    assert thumbnail.count() == 1 and thumbnail.get_attribute("src").startswith("blob:")
    assert not any('"attach"' in frame for frame in sent), "nothing asked of the relay for refused files"

    tray.get_by_role("button", name="Remove tool.exe").click()
    assert tray.locator(".attachment").count() == 2
    assert page.problems == []


def test_a_pasted_image_and_a_dropped_image_get_thumbnails(open_page):
    page = open_page()
    file_in_page(page, "pasted.png", "image/png", png(1024))
    page.evaluate(
        """() => { const data = new DataTransfer(); data.items.add(window.testFile);
                   document.getElementById('message').dispatchEvent(
                     new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true })); }"""
    )
    file_in_page(page, "dropped.gif", "image/gif", b"GIF89a" + bytes(100))
    page.evaluate(
        """() => { const data = new DataTransfer(); data.items.add(window.testFile);
                   const zone = document.querySelector('main.chat');
                   const init = { dataTransfer: data, bubbles: true, cancelable: true };
                   zone.dispatchEvent(new DragEvent('dragover', init));
                   zone.dispatchEvent(new DragEvent('drop', init)); }"""
    )
    items = page.locator("#attachments .attachment")
    assert [items.nth(i).get_attribute("data-name") for i in range(items.count())] == ["pasted.png", "dropped.gif"]
    assert page.locator("#attachments img.thumbnail").count() == 2
    assert page.locator("#message").input_value() == "", "the pasted image is not text"


def test_an_attached_image_is_uploaded_shown_in_the_bubble_and_reaches_the_model(open_page):
    page = open_page()
    models = page.evaluate("window.relayChat.models()")
    seeing = [model["id"] for model in models if "image" in (model.get("attachments") or [])]
    assert seeing, f"no model takes images: {models}"
    page.select_option("#model", seeing[0])
    page.set_input_files("#attach-input", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": png(2048)}])
    answer = send_message(page, f"What is this? {FAST}")
    assert wait_finished(answer) == "done", answer.locator(".answer-error").text_content()
    assert page.locator(".message.user").last.locator("img.thumbnail").count() == 1
    assert answer.locator(".markdown").text_content().startswith("[image png 2048 bytes]")
    assert page.locator("#attachments").is_hidden()
