"""`make smoke` against localgw, as an operator runs it against a stack: every check passes on a working relay, and a
broken one fails with a line that says what broke (the token, the model) and a non-zero exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

from localgw import GatewayHandle
from tests import REPO_ROOT

CHECK_NAMES = (
    "connect",
    "models",
    "answer",
    "cancel",
    "resume after a drop",
    "unauthenticated refused",
    "bad message → bad_request",
    "HTTP models",
    "HTTP answer (streamed)",
    "HTTP unauthenticated",
)


def smoke(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The worktree's client library first: the shared virtualenv may point elsewhere.
    path = os.pathsep.join([str(REPO_ROOT / "clients" / "python" / "src"), str(REPO_ROOT)])
    environment = {key: value for key, value in os.environ.items() if key not in ("TOKEN", "URL")}
    environment.update(PYTHONPATH=path, NO_PROXY="127.0.0.1,localhost", **env)
    return subprocess.run(
        [sys.executable, "-m", "smoke", "--url", url, *args],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def lines_by_check(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        for name in CHECK_NAMES:
            if line[2:].startswith(name + " "):
                found[name] = line
    return found


def test_every_check_passes_against_a_working_relay(relay_gateway: GatewayHandle) -> None:
    done = smoke(relay_gateway.ws_url)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = lines_by_check(done.stdout)
    assert list(lines) == list(CHECK_NAMES)
    assert all(line.startswith("✓") for line in lines.values()), done.stdout
    assert "localgw dev token" in done.stdout and "10/10 checks passed" in done.stdout
    assert f"HTTP API at {relay_gateway.url}/{relay_gateway.gateway.stage}/v1" in done.stdout


def test_no_http_skips_the_http_api(relay_gateway: GatewayHandle) -> None:
    done = smoke(relay_gateway.ws_url, "--no-http")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "7/7 checks passed" in done.stdout and "HTTP models" not in done.stdout


def test_a_refused_token_fails_the_connect_check_with_the_reason(relay_gateway: GatewayHandle) -> None:
    done = smoke(relay_gateway.ws_url, TOKEN="not-a-jwt")

    assert done.returncode == 1
    lines = lines_by_check(done.stdout)
    assert lines["connect"].startswith("✗") and "the token was refused" in lines["connect"]
    assert lines["answer"].startswith("✗")
    assert lines["unauthenticated refused"].startswith("✓")
    assert lines["HTTP models"].startswith("✗") and "401" in lines["HTTP models"]


def test_a_failing_model_fails_the_answer_check_with_its_error_code(
    relay_gateway: GatewayHandle, relay_env: Callable[..., None]
) -> None:
    # GIVEN a relay whose only model is an upstream nobody listens on
    down = {
        "default": "down",
        "models": {"down": {"provider": "openai", "baseUrl": "http://127.0.0.1:9/v1", "model": "m"}},
    }
    relay_env(RELAY_MODELS=json.dumps(down))

    done = smoke(relay_gateway.ws_url)

    assert done.returncode == 1
    lines = lines_by_check(done.stdout)
    assert lines["connect"].startswith("✓") and lines["models"].startswith("✓")
    assert lines["answer"].startswith("✗") and "upstream_unavailable" in lines["answer"], done.stdout
    assert lines["HTTP answer (streamed)"].startswith("✗")
    assert "failed: answer" in done.stdout
