"""How the page renders protocol v2 and answers it, against a scripted relay (tests/web/scripted_relay.py) that
sends the frames of issues 14 and 15 exactly as written: the thinking block, a tool call card whose tool runs in
the page and whose result goes back in `toolResults`, an attachment uploaded with a multipart POST and its id sent
with the message. These run without the real relay's v2; test_tools_and_reasoning.py and test_attachments.py run
the same paths against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.conftest import send_message, wait_finished
from tests.web.scripted_relay import REASONING_WORDS, ScriptedRelay, scripted_relay


@pytest.fixture
def relay() -> Iterator[ScriptedRelay]:
    with scripted_relay() as scripted:
        yield scripted


@pytest.fixture
def page(open_page, relay) -> Any:
    def point_at_the_script(page: Any) -> None:
        def handle(route: Any) -> None:
            response = route.fetch()
            route.fulfill(response=response, json={**response.json(), "wsUrl": relay.ws_url})

        page.route("**/config.json", handle)

    return open_page(before_goto=point_at_the_script)


def sendtexts(relay: ScriptedRelay) -> list[dict[str, Any]]:
    return [message for message in relay.received if message.get("action") == "sendtext"]


def test_reasoning_is_a_thinking_block_that_folds_and_stays_out_of_the_text(page, relay):
    assert page.locator("#reasoning").is_enabled()
    page.check("#reasoning")
    answer = send_message(page, "Think")
    assert wait_finished(answer) == "done"
    assert sendtexts(relay)[-1]["reasoning"] is True
    thinking = answer.locator("details.thinking")
    assert thinking.locator(".thinking-text").text_content() == " ".join(REASONING_WORDS)
    assert thinking.get_attribute("open") is None and thinking.locator("summary").text_content() == "Thoughts"
    assert answer.locator(".markdown").text_content() == "Turn 1. You said: Think"
    assert page.problems == []


def test_the_clock_tool_runs_in_the_page_and_its_result_is_sent_back(page, relay):
    page.check("#use-tools")
    answer = send_message(page, "What time is it?")
    page.wait_for_function("() => document.querySelectorAll('.message.answer').length === 2")
    follow_up = page.locator(".message.answer").nth(1)
    assert wait_finished(follow_up) == "done"
    asked, answered = sendtexts(relay)
    assert [tool["name"] for tool in asked["tools"]] == ["browser_clock"]
    assert asked["tools"][0]["inputSchema"]["type"] == "object"
    (result,) = answered["toolResults"]
    assert result["toolUseId"] == "tool-1" and result["status"] == "success"
    assert set(result["content"]) == {"now", "local", "timeZone"}
    assert answered["conversationId"] == "conv-1" and "text" not in answered
    card = answer.locator(".tool-card")
    assert card.get_attribute("data-state") == "success"
    assert card.locator(".tool-title").text_content() == "🔧 browser_clock"
    assert json.loads(card.locator(".tool-result").text_content().removeprefix("→ ")) == result["content"]
    assert follow_up.locator(".markdown").text_content().startswith("Turn 2. Tool browser_clock returned:")
    assert page.locator(".message.user").count() == 1
    assert page.problems == []


def test_an_attachment_is_uploaded_by_multipart_post_and_its_id_goes_with_the_message(page, relay):
    image = b"\x89PNG\r\n\x1a\n" + bytes(2040)
    page.set_input_files("#attach-input", files=[{"name": "dot.png", "mimeType": "image/png", "buffer": image}])
    answer = send_message(page, "Look")
    assert wait_finished(answer) == "done", answer.locator(".answer-error").text_content()
    attach = next(message for message in relay.received if message.get("action") == "attach")
    assert attach == {"action": "attach", "fileName": "dot.png", "contentType": "image/png", "size": 2048}
    (body,) = relay.uploads
    assert body.index(b'name="key"') < body.index(b'name="file"; filename="dot.png"') and image in body
    assert sendtexts(relay)[-1]["attachments"] == ["att-1"]
    assert answer.locator(".markdown").text_content() == "[att-1] Turn 1. You said: Look"
    assert page.locator(".message.user img.thumbnail").count() == 1
    assert page.problems == []


def test_a_long_text_goes_in_parts_and_comes_back_whole(page, relay):
    text = "長い文章😀 " * 20_000 + "the end"
    answer = send_message(page, text)
    assert wait_finished(answer) == "done"
    parts = sendtexts(relay)
    assert len(parts) > 1 and {part["parts"] for part in parts} == {len(parts)}
    said = f"Turn 1. You said: {len(text)} characters, ending {text[-20:]!r}"
    assert answer.locator(".markdown").text_content() == said, "the parts were joined back into the whole text"
