"""Protocol v2 on the chat page (issue 14) in Chromium: reasoning streams into a collapsible "thinking" block, and
the demo tool (the browser's clock) runs in the page when the model calls it, its result goes back and the model
answers with it. These need the relay of issue 14 (branch p1-tools): on a relay without tools or reasoning the
models say neither, the options stay disabled, and the tests fail at that first check."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import send_message, wait_finished

FAST = "[[sim rate=100000 ttft=0]]"


def pick_model(page: Any, capability: str) -> str:
    models = page.evaluate("window.relayChat.models()")
    able = [model["id"] for model in models if model.get(capability) is True]
    assert able, f"no model says {capability}: true in {models}"
    page.select_option("#model", able[0])
    return able[0]


def test_reasoning_streams_into_a_thinking_block_that_folds_when_the_answer_comes(open_page):
    page = open_page()
    pick_model(page, "reasoning")
    page.check("#reasoning")
    answer = send_message(page, "Think it over [[sim think=8 tokens=40 rate=200 ttft=0]]")
    thinking = answer.locator("details.thinking")
    thinking.wait_for()
    assert wait_finished(answer) == "done"
    assert len(thinking.locator(".thinking-text").text_content().split()) == 8
    assert thinking.locator("summary").text_content() == "Thoughts"
    assert thinking.get_attribute("open") is None, "folded once the answer came"
    thinking.locator("summary").click()
    assert thinking.get_attribute("open") is not None
    assert answer.locator(".markdown").text_content().startswith("Turn 1. You said: Think it over")
    reasoning = page.evaluate("window.relayChat.answers()[0].reasoning")
    assert reasoning.split() == thinking.locator(".thinking-text").text_content().split()


def test_the_browser_clock_tool_runs_in_the_page_and_its_result_reaches_the_model(open_page):
    page = open_page()
    pick_model(page, "tools")
    page.check("#use-tools")
    answer = send_message(page, f"What time is it here? [[sim tool=browser_clock]] {FAST}")
    card = answer.locator(".tool-card")
    card.wait_for()
    assert card.locator(".tool-title").text_content() == "🔧 browser_clock"
    page.wait_for_function("() => document.querySelectorAll('.message.answer').length === 2")
    follow_up = page.locator(".message.answer").nth(1)
    assert wait_finished(follow_up) == "done", follow_up.locator(".answer-error").text_content()
    assert card.get_attribute("data-state") == "success"
    assert '"timeZone"' in card.locator(".tool-result").text_content()
    assert follow_up.locator(".markdown").text_content().startswith("Turn 2. Tool browser_clock returned:")
    assert page.locator(".message.user").count() == 1, "the tool results are not a message of the user's"
    assert page.problems == []

    # Reloaded, the conversation opened from the sidebar is its history: the call with its result, the follow-up.
    page.reload()
    page.wait_for_selector("#status[data-state=open]")
    page.locator(".conversation").first.click()
    page.wait_for_selector(".message.answer .tool-card")
    stored = page.locator(".tool-card")
    assert stored.count() == 1 and stored.locator(".tool-title").text_content() == "🔧 browser_clock"
    assert stored.get_attribute("data-state") == "success"
    assert '"timeZone"' in stored.locator(".tool-result").text_content()
    assert page.locator(".message.user").count() == 1
    assert page.locator(".message.answer").nth(1).locator(".markdown").text_content().startswith("Turn 2. Tool")
