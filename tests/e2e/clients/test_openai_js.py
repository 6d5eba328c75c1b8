"""The official `openai` npm package against the relay's OpenAI-compatible HTTP API (localgw's /{stage}/v1):
`node --test tests/e2e/clients/openai_js/sdk.test.mjs`.

This side asks the same question over the WebSocket first and hands the node tests its answer and usage, with the
base URL and a dev-issuer token, through the environment. The SDK is pinned by openai_js/package-lock.json;
`npm ci --prefix tests/e2e/clients/openai_js` runs first when its node_modules is missing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from localgw import GatewayHandle
from tests import REPO_ROOT
from tests.e2e.client import answer_text, ask, expected_reply
from tests.e2e.clients.test_js import _node, run_node_test_file
from tests.e2e.lambdas.test_lifecycle import wait_for_record

SDK_DIR = REPO_ROOT / "tests" / "e2e" / "clients" / "openai_js"
NODE_TESTS = SDK_DIR / "sdk.test.mjs"
QUESTION = "The same question from the JavaScript SDK [[sim tokens=40 rate=2000 ttft=0]]"
SLOW_QUESTION = "A slow first token for the JavaScript SDK [[sim tokens=30 rate=2000 ttft=2500]]"


@pytest.fixture(scope="module")
def openai_sdk() -> None:
    _node()
    if not (SDK_DIR / "node_modules" / "openai" / "package.json").is_file():
        subprocess.run(
            ["npm", "ci", "--prefix", str(SDK_DIR), "--no-audit", "--no-fund"],
            check=True,
            timeout=300,
            capture_output=True,
        )


def run_node_tests(
    relay_gateway: GatewayHandle, connect: Any, user: str, question: str, *name_patterns: str
) -> subprocess.CompletedProcess[str]:
    """The node tests (those matching `name_patterns`, all without), given the WebSocket's answer to `question`."""
    frames = ask(connect(), question)
    assert frames[-1]["type"] == "done", frames[-1]
    assert answer_text(frames) == expected_reply(question).text
    env = {
        **os.environ,
        "RELAY_OPENAI_BASE_URL": relay_gateway.openai_base_url,
        "RELAY_TOKEN": relay_gateway.dev_issuer.mint(user),
        "RELAY_QUESTION": question,
        "RELAY_WEBSOCKET_ANSWER": answer_text(frames),
        "RELAY_WEBSOCKET_USAGE": json.dumps(frames[-1]["usage"]),
        "RELAY_MODEL_ALIASES": json.dumps(relay_gateway.gateway.models.aliases),
    }
    patterns = [f"--test-name-pattern={pattern}" for pattern in name_patterns]
    return run_node_test_file(SDK_DIR, NODE_TESTS, env, *patterns)


def summary(spec_output: str) -> dict[str, int]:
    """The spec reporter's closing counts (`ℹ tests 13`, `ℹ pass 13`, ...) that matter here."""
    counts = dict(re.findall(r"^\S+ (tests|pass|skipped|todo) (\d+)$", spec_output, re.MULTILINE))
    return {name: int(value) for name, value in counts.items()}


def test_the_openai_js_sdk_streams_answers_tools_and_typed_errors(
    openai_sdk: None, relay_gateway: GatewayHandle, connect: Any, user: str
) -> None:
    result = run_node_tests(relay_gateway, connect, user, QUESTION)
    counts = summary(result.stdout)
    assert counts["tests"] == counts["pass"] > 0 and counts["skipped"] == counts["todo"] == 0, counts
    # The node test that broke out of its for-await closed the connection: the relay closed the model's stream.
    record = wait_for_record(relay_gateway.url, "js-leaves", lambda r: r["outcome"] != "running")
    assert record["outcome"] == "client_closed"
    assert record["chunks_sent"] < record["chunks_planned"] / 2


def test_the_openai_js_sdk_reads_a_stream_with_keep_alives(
    openai_sdk: None, relay_gateway: GatewayHandle, connect: Any, user: str, relay_env: Any
) -> None:
    # A first token 2.5 s late against keep-alives every second: comments arrive before the text
    # (tests/e2e/lambdas/test_openai_http_keepalive.py shows them on the wire); the SDK's answer is unchanged.
    relay_env(RELAY_SSE_KEEPALIVE_SECONDS="1")
    result = run_node_tests(relay_gateway, connect, user, SLOW_QUESTION, "^streamed", "^include_usage")
    assert summary(result.stdout)["pass"] == 2
