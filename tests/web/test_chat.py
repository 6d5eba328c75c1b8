"""The chat page in a real headless Chromium against the real relay (localgw, authorizer, DynamoDB, simulator).

What the relay does best, seen by a user: text that streams, a stop button that stops, answers that survive a
dropped connection; plus errors, the model picker, conversations and history, and Markdown that stays text.
"""

from __future__ import annotations

import json
import os
import re
import time

from lambdas import env_vars
from lambdas.config import settings
from localgw.simulator import SimConversation, plan_reply
from tests.web.conftest import ARTIFACTS, send_message, wait_finished

DOCS_SCREENSHOT = ARTIFACTS.parent / "docs" / "web-screenshot.png"

FAST = "[[sim rate=5000 ttft=0]]"


def expected(*turns: tuple[str, str]) -> str:
    return plan_reply(SimConversation.of(*turns)).text


def test_text_appears_progressively_before_done(open_page):
    page = open_page()
    # The announcer's additions are counted from now: the live region must speak in sentences, not per delta.
    page.evaluate(
        """() => { window.announced = 0;
                   new MutationObserver((m) => { window.announced += m.reduce((n, r) => n + r.addedNodes.length, 0); })
                   .observe(document.getElementById('announcer'), { childList: true }); }"""
    )
    text = "Stream slowly please [[sim tokens=60 rate=30 ttft=300]]"
    sent_at = time.monotonic()
    answer = send_message(page, text)
    body = answer.locator(".markdown")
    lengths = []
    while answer.get_attribute("data-state") in ("waiting", "streaming"):
        length = len(body.text_content())
        if length and (not lengths or lengths[-1] != length):
            lengths.append(length)
        time.sleep(0.15)
    assert len(lengths) >= 3, f"the answer grew through only {lengths} before it was done"
    assert lengths == sorted(lengths)

    assert wait_finished(answer) == "done"
    assert body.text_content() == expected(("user", text))
    meta = answer.locator(".answer-meta").text_content()
    assert "(simulated)" in meta and "60 out tokens" in meta and re.search(r"first token \d+ ms", meta), meta
    # Sentences at most every 1.5 s (web/announcer.js), plus "started", the rest and the summary: not one per delta
    # (~30). Bounded by the answer's real duration, which a loaded machine stretches.
    seconds = time.monotonic() - sent_at
    assert page.evaluate("window.announced") <= 3 + seconds / 1.5
    assert page.evaluate("document.activeElement.id") == "message"
    assert page.problems == []


def test_stop_ends_the_answer_and_nothing_grows_after(open_page):
    page = open_page()
    answer = send_message(page, "A very long story [[sim tokens=3000 rate=60 ttft=0]]")
    body = answer.locator(".markdown")
    page.wait_for_function("() => document.querySelector('.message.answer .markdown').textContent.length > 20")
    assert page.locator("#send").is_hidden()
    page.click("#stop")
    assert wait_finished(answer) == "stopped"
    assert answer.locator(".answer-status").text_content() == "Stopped."
    assert page.evaluate("window.relayChat.answers()[0].terminal.stopReason") == "cancelled"
    stopped_at = body.text_content()
    time.sleep(0.8)
    assert body.text_content() == stopped_at
    assert len(stopped_at) < len(expected(("user", "A very long story [[sim tokens=3000 rate=60 ttft=0]]")))
    assert page.evaluate("document.activeElement.id") == "message"
    assert page.locator("#send").is_visible() and page.locator("#stop").is_hidden()


def test_a_dropped_socket_resumes_and_the_answer_ends_complete(open_page):
    page = open_page()
    page.evaluate(
        """() => { window.seen = new Set(); const status = document.getElementById('status');
                   new MutationObserver(() => window.seen.add(status.textContent))
                   .observe(status, { childList: true, characterData: true, subtree: true }); }"""
    )
    text = "Survive a drop [[sim tokens=200 rate=100 ttft=0]]"
    answer = send_message(page, text)
    page.wait_for_function("() => (window.relayChat.answers()[0] || {}).lastSeq >= 3")
    page.evaluate("window.relayChat.drop()")
    assert wait_finished(answer) == "done"

    assert "reconnecting…" in page.evaluate("[...window.seen]")
    assert page.locator("#status").text_content() == "connected"
    state = page.evaluate("window.relayChat.answers()[0]")
    assert state["text"] == expected(("user", text))
    assert answer.locator(".markdown").text_content() == expected(("user", text))
    assert state["terminal"]["type"] == "done" and state["terminal"]["stopReason"] == "end_turn"


def test_an_over_long_message_shows_bad_request_naming_the_field(open_page, monkeypatch):
    # The relay's limit (200,000 characters by default) lowered, so one small frame is over it.
    monkeypatch.setenv(env_vars.MAX_TEXT_CHARS, "1000")
    settings.cache_clear()
    page = open_page()
    answer = send_message(page, "x" * 1_001)
    assert wait_finished(answer) == "error"
    assert answer.get_attribute("data-error-code") == "bad_request"
    error = answer.locator(".answer-error").text_content()
    assert "Request refused" in error and "Field “text”" in error and "1000" in error
    monkeypatch.undo()
    settings.cache_clear()


def test_a_throttled_model_shows_throttled_with_a_retry(open_page):
    page = open_page()
    page.select_option("#model", "openai")  # the OpenAI-compatible alias is not retried: throttled at once
    answer = send_message(page, "[[sim throttle]] busy?")
    assert wait_finished(answer) == "error"
    assert answer.get_attribute("data-error-code") == "throttled"
    assert "throttled" in answer.locator(".answer-error").text_content()
    assert answer.locator("button.retry").is_visible()


def test_rate_limited_shows_a_live_countdown(open_page, web_gateway, ws_connect, web_user):
    page = open_page()
    # Two answers in flight for the user (the quota is 2) from other sockets; the page's is the third.
    token = web_gateway.dev_issuer.mint(web_user)
    busy = []
    for index in range(2):
        ws = ws_connect(web_gateway.ws_url, query=f"token={token}")
        ws.send(
            json.dumps({"action": "sendtext", "text": "busy [[sim tokens=2000 rate=100]]", "requestId": f"busy{index}"})
        )
        assert json.loads(ws.recv(timeout=10))["type"] == "start"
        busy.append(ws)
    answer = send_message(page, "one too many")
    assert wait_finished(answer) == "error"
    assert answer.get_attribute("data-error-code") == "rate_limited"
    clock = answer.locator(".countdown")
    first = int(re.search(r"Retry in (\d+) s", clock.text_content()).group(1))
    page.wait_for_function(
        "n => { const m = /Retry in (\\d+) s/.exec(document.querySelector('.countdown').textContent);"
        " return m && Number(m[1]) < n; }",
        arg=first,
    )
    for index, ws in enumerate(busy):  # end them now: a socket closed mid-answer takes long to close
        ws.send(json.dumps({"action": "cancel", "requestId": f"busy{index}"}))
        while json.loads(ws.recv(timeout=10))["type"] != "done":
            pass


def test_the_model_picker_lists_the_models_with_the_default_selected(open_page, web_gateway):
    page = open_page()
    catalogue = web_gateway.gateway.models
    options = page.locator("#model option")
    assert options.evaluate_all("options => options.map(o => o.value)") == list(catalogue.aliases)
    assert page.input_value("#model") == catalogue.default
    assert all("simulated" in label for label in options.all_text_contents())
    assert page.locator("label[for=model]").text_content() == "Model"

    # Shift+Enter is a new line, not a send.
    page.fill("#message", "line one")
    page.press("#message", "Shift+Enter")
    page.keyboard.type("line two")
    assert page.input_value("#message") == "line one\nline two"
    assert page.locator(".message").count() == 0


def test_conversations_are_listed_and_open_with_their_history(open_page):
    page = open_page()
    first, second = f"First question {FAST}", f"Second question {FAST}"
    wait_finished(send_message(page, first))
    wait_finished(send_message(page, second))
    page.click("#new-conversation")
    assert page.locator(".message").count() == 0
    other = f"Another topic {FAST}"
    wait_finished(send_message(page, other))

    titles = page.locator(".conversation-title")
    page.wait_for_function("() => document.querySelectorAll('.conversation').length === 2")
    assert titles.all_text_contents()[0].startswith("Another topic")  # newest first
    page.locator(".conversation", has_text="First question").click()
    page.wait_for_function("() => document.querySelectorAll('.message').length === 4")
    bubbles = page.locator(".message .bubble")
    assert bubbles.nth(0).text_content() == first
    first_answer = expected(("user", first))
    assert bubbles.nth(1).locator(".markdown").text_content() == first_answer
    assert bubbles.nth(2).text_content() == second
    second_answer = expected(("user", first), ("assistant", first_answer), ("user", second))
    assert bubbles.nth(3).locator(".markdown").text_content() == second_answer
    assert page.locator(".conversation[aria-current=true]").text_content().startswith("First question")


def test_the_conversation_list_pages_with_more(open_page, web_gateway, ws_connect, web_user):
    ws = ws_connect(web_gateway.ws_url, query=f"token={web_gateway.dev_issuer.mint(web_user)}")
    for index in range(21):  # one more than the relay's page of 20
        ws.send(f'{{"action": "sendtext", "text": "topic {index} [[sim tokens=3 rate=5000 ttft=0]]"}}')
        while '"done"' not in ws.recv(timeout=10):
            pass
    page = open_page()
    page.wait_for_function("() => document.querySelectorAll('.conversation').length === 20")
    assert page.locator(".conversation-title").first.text_content().startswith("topic 20")
    page.click("#more-conversations")
    page.wait_for_function("() => document.querySelectorAll('.conversation').length === 21")
    assert page.locator(".conversation-title").last.text_content().startswith("topic 0")
    assert page.locator("#more-conversations").is_hidden()


INJECTIONS = (
    "<img src=x onerror=alert(1)> <script>alert(2)</script> [click](javascript:alert(3)) "
    "[data](data:text/html,<script>alert(4)</script>) <a href=javascript:alert(5)>a</a> "
    "**bold** and `<b>code</b>` and [safe](https://example.com/x?a=1)"
)


def test_markdown_injection_through_the_relay_renders_as_text(open_page):
    page = open_page()
    answer = send_message(page, f"{INJECTIONS} {FAST}")
    assert wait_finished(answer) == "done"
    body = answer.locator(".markdown")
    text = body.text_content()
    for payload in ("<img src=x onerror=alert(1)>", "<script>alert(2)</script>", "[click](javascript:alert(3))"):
        assert payload in text
    assert page.locator("#transcript img, #transcript script, #transcript iframe").count() == 0
    assert body.locator("b").count() == 0 and body.locator("strong").text_content() == "bold"
    assert body.locator("code").text_content() == "<b>code</b>"
    assert body.locator("a").evaluate_all("links => links.map(a => a.href)") == ["https://example.com/x?a=1"]
    time.sleep(0.3)
    assert page.dialogs == [] and page.problems == []


def test_the_markdown_renderer_builds_safe_nodes(open_page):
    page = open_page(wait_connected=False)
    result = page.evaluate(
        """async () => {
          const { renderMarkdown } = await import('/markdown.js');
          const box = document.createElement('div');
          box.append(renderMarkdown(
            '# Title <img src=x onerror=alert(1)>\\n\\n' +
            'Some *italic*, **bold** and a [link](https://example.com) or [bad](javascript:alert(1))' +
            ' or [rel](/relative) or [caps](JaVaScRiPt:alert(1)).\\n\\n' +
            '- one <script>alert(1)</script>\\n- two\\n  - nested\\n\\n' +
            '3. three\\n4. four\\n\\n' +
            '```html\\n<script>alert(1)</script>\\n```\\n\\n' +
            '> quoted <iframe src=x></iframe>\\n\\n' +
            '```\\nunclosed fence <img src=y>'
          ));
          return {
            tags: [...box.querySelectorAll('*')].map((n) => n.tagName.toLowerCase()),
            links: [...box.querySelectorAll('a')].map((a) => a.getAttribute('href')),
            code: [...box.querySelectorAll('pre code')].map((c) => c.textContent),
            language: box.querySelector('pre').dataset.language,
            olStart: box.querySelector('ol').start,
            text: box.textContent,
          };
        }"""
    )
    assert set(result["tags"]) <= {"h3", "p", "em", "strong", "a", "ul", "ol", "li", "pre", "code", "blockquote"}
    assert result["links"] == ["https://example.com/"]
    assert result["code"] == ["<script>alert(1)</script>", "unclosed fence <img src=y>"]
    assert result["language"] == "html" and result["olStart"] == 3
    for literal in ("<img src=x onerror=alert(1)>", "[bad](javascript:alert(1))", "<iframe src=x></iframe>"):
        assert literal in result["text"]
    assert page.dialogs == []
    # The page's Content-Security-Policy is in force: an injected inline script would not run anyway.
    blocked = page.evaluate(
        """() => new Promise((resolve) => {
          document.addEventListener('securitypolicyviolation', (event) => resolve(event.violatedDirective));
          const script = document.createElement('script');
          script.textContent = 'window.injected = true';
          document.body.append(script);
          setTimeout(() => resolve(window.injected ? 'ran' : 'silent'), 2000);
        })"""
    )
    assert blocked == "script-src-elem"


def test_cognito_sign_in_calls_initiate_auth_and_connects_with_the_access_token(browser, web_gateway, web_user):
    context = browser.new_context()
    try:
        page = context.new_page()
        config = {
            "wsUrl": web_gateway.ws_url,
            "auth": {"mode": "cognito", "region": "eu-west-1", "userPoolId": "eu-west-1_Example", "clientId": "abc123"},
        }
        page.route("**/config.json", lambda route: route.fulfill(json=config))
        calls = []

        def cognito(route):
            request = route.request
            calls.append({"headers": request.headers, "body": request.post_data_json, "method": request.method})
            if request.post_data_json["AuthParameters"]["PASSWORD"] != "right":
                return route.fulfill(
                    status=400,
                    json={"__type": "NotAuthorizedException", "message": "Incorrect username or password."},
                    headers={"Access-Control-Allow-Origin": "*"},
                )
            # The stub hands out a dev-issuer token: the relay's real authorizer accepts it like a Cognito one.
            result = {"AccessToken": web_gateway.dev_issuer.mint(web_user), "ExpiresIn": 3600, "TokenType": "Bearer"}
            return route.fulfill(json={"AuthenticationResult": result}, headers={"Access-Control-Allow-Origin": "*"})

        page.route("https://cognito-idp.eu-west-1.amazonaws.com/", cognito)
        page.goto(f"{web_gateway.url}/")
        page.locator("#sign-in").wait_for()
        page.fill("#sign-in-user", web_user)
        page.fill("#sign-in-password", "wrong")
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_function("() => document.getElementById('sign-in-error').textContent.includes('Incorrect')")
        page.fill("#sign-in-password", "right")
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_selector("#status[data-state=open]")
        assert page.locator("#signed-in").text_content() == f"Signed in as {web_user}"
        assert page.locator("#dev-user-form").is_hidden()

        assert len(calls) == 2
        call = calls[1]
        assert call["method"] == "POST"
        assert call["headers"]["content-type"] == "application/x-amz-json-1.1"
        assert call["headers"]["x-amz-target"] == "AWSCognitoIdentityProviderService.InitiateAuth"
        assert call["body"] == {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": "abc123",
            "AuthParameters": {"USERNAME": web_user, "PASSWORD": "right"},
        }
    finally:
        context.close()


def test_answer_frames_are_applied_once_in_order_and_history_turns_merge(open_page):
    page = open_page(wait_connected=False)
    result = page.evaluate(
        """async () => {
          const { Answer } = await import('/answer.js');
          const { mergeTurns } = await import('/history.js');
          const answer = new Answer({ requestId: 'r1', prompt: 'hi' });
          const frames = [
            { type: 'start', requestId: 'r1', seq: 0, model: 'claude', conversationId: 'c1' },
            { type: 'delta', requestId: 'r1', seq: 2, text: ' world' },
            { type: 'delta', requestId: 'r1', seq: 1, text: 'hello' },
            { type: 'delta', requestId: 'r1', seq: 1, text: 'hello' },
            { type: 'done', requestId: 'r1', seq: 3, stopReason: 'end_turn' },
            { type: 'delta', requestId: 'r1', seq: 4, text: 'late' },
          ];
          const applied = frames.map((frame) => answer.receive(frame).map((f) => f.seq));
          const turns = mergeTurns([
            { turn: 1, role: 'user', text: 'q' },
            { turn: 2, role: 'assistant', text: 'long ' },
            { turn: 2, role: 'assistant', text: 'answer' },
          ]);
          return { applied, text: answer.text, state: answer.state, lastSeq: answer.lastSeq,
                   duplicates: answer.duplicates, conversationId: answer.conversationId,
                   turns: turns.map((t) => [t.turn, t.text]) };
        }"""
    )
    assert result["applied"] == [[0], [], [1, 2], [], [3], []]
    assert (result["text"], result["state"], result["lastSeq"]) == ("hello world", "done", 3)
    assert result["duplicates"] == 1 and result["conversationId"] == "c1"
    assert result["turns"] == [[1, "q"], [2, "long answer"]]


def test_screenshot_of_a_conversation(open_page):
    """test-artifacts/web-chat.png: an answer done (usage and timing under it), one stopped, one streaming.
    With UPDATE_WEB_SCREENSHOT=1 the same picture goes to docs/web-screenshot.png (the README's)."""
    page = open_page(viewport={"width": 1180, "height": 840})
    wait_finished(send_message(page, f"Plan a weekend in Zürich {FAST}"))
    page.click("#new-conversation")
    done = send_message(page, "What does **the relay** do? `code` and a [link](https://example.com) [[sim tokens=30]]")
    wait_finished(done)
    stopped = send_message(page, "Tell me a long story [[sim tokens=2000 rate=80 ttft=0]]")
    page.wait_for_function("() => document.querySelectorAll('.markdown')[1].textContent.length > 100")
    page.click("#stop")
    wait_finished(stopped)
    streaming = send_message(page, "And one that is still streaming [[sim tokens=400 rate=40 ttft=200]]")
    page.wait_for_function("() => document.querySelectorAll('.markdown')[2].textContent.length > 130")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-chat.png"))
    if os.environ.get("UPDATE_WEB_SCREENSHOT"):
        page.screenshot(path=str(DOCS_SCREENSHOT))
    assert streaming.get_attribute("data-state") == "streaming" and page.locator("#stop").is_visible()
    page.click("#stop")
    wait_finished(streaming)
