"""Browser fixtures: Debian's Chromium driven by Playwright, on the page localgw serves (the real relay, with auth).

Playwright's own browser download cannot run here, so the tests launch /usr/bin/chromium (`make test` installs it).
Without it the browser tests are skipped, except under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localgw import GatewayHandle, GatewayOptions, run_in_thread

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 15_000
"""How long a test waits for the page to reach a state: generous, the machine is shared."""

_users = itertools.count()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (`make test` installs it)")
    pytest.skip(f"{reason}: run `make test` (or `apt-get install chromium`, `pip install playwright`)")


@pytest.fixture(scope="package")
def web_gateway() -> Iterator[GatewayHandle]:
    """The real relay (routes, authorizer, moto DynamoDB, simulator, dev issuer) serving web/, for these tests.

    Not the session-wide `relay_gateway`: tests that run before these (`mock_aws()` in tests/unit, test_quotas.py)
    reset moto's in-process backends, and the session gateway's table with them. Starting here creates it again."""
    with run_in_thread(GatewayOptions(port=0)) as handle:
        yield handle


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def web_user() -> str:
    """A fresh user per test: quotas, conversations and in-flight answers never cross tests."""
    return f"web-{os.getpid()}-{next(_users)}"


@pytest.fixture
def open_page(browser: Any, web_gateway: GatewayHandle, web_user: str) -> Iterator[Callable[..., Any]]:
    """`open_page(**context_options) -> page`: the chat page, signed in as `web_user`, connected to the relay.

    `before_goto(page)` runs before the page loads (routes, websocket listeners). Page errors and dialogs are
    collected on `page.problems` and `page.dialogs`; tests assert on them."""
    contexts: list[Any] = []

    def open_chat(
        *, wait_connected: bool = True, before_goto: Callable[[Any], None] | None = None, **options: Any
    ) -> Any:
        context = browser.new_context(**{"viewport": {"width": 1180, "height": 760}, **options})
        contexts.append(context)
        context.set_default_timeout(WAIT_MS)
        # The page remembers its user in localStorage: set it before the page's own scripts run.
        context.add_init_script(f"localStorage.setItem('relay-chat.dev-user', {web_user!r});")
        page = context.new_page()
        page.problems = []
        page.dialogs = []
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))

        def on_dialog(dialog: Any) -> None:
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        if before_goto is not None:
            before_goto(page)
        page.goto(f"{web_gateway.url}/")
        if wait_connected:
            page.wait_for_selector("#status[data-state=open]")
            page.wait_for_selector("#model:not([disabled])")
        return page

    yield open_chat
    for context in contexts:
        context.close()


def send_message(page: Any, text: str) -> Any:
    """Type `text` and press Enter; returns the new answer bubble's locator."""
    before = page.locator(".message.answer").count()
    page.fill("#message", text)
    page.press("#message", "Enter")
    answer = page.locator(".message.answer").nth(before)
    answer.wait_for()
    return answer


def wait_finished(answer: Any) -> str:
    """Wait until the answer ended (done, stopped or error); returns its state."""
    answer.locator("xpath=self::*[@data-state='done' or @data-state='stopped' or @data-state='error']").wait_for()
    return answer.get_attribute("data-state")
