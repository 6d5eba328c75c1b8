"""`python -m localgw`: flags, environment variables, the start banner and a clean Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from websockets.sync.client import connect

from localgw.cli import parse_options
from tests import REPO_ROOT

REPO = REPO_ROOT


def test_defaults_follow_aws_and_cdk_json() -> None:
    options = parse_options([], {})
    assert (options.host, options.port, options.stage) == ("127.0.0.1", 8080, None)
    assert options.idle_timeout_seconds == 600 and options.max_connection_seconds == 7200
    assert options.upstream == "simulated"
    assert options.handler_log_level == "WARNING"
    assert (options.post_latency_ms, options.post_429_rate) == (0, 0)


def test_environment_sets_defaults_and_flags_win() -> None:
    environ = {
        "LOCALGW_PORT": "9000",
        "LOCALGW_STAGE": "test",
        "LOCALGW_UPSTREAM": "bedrock",
        "LOCALGW_POST_429_RATE": "0.25",
    }
    options = parse_options(["--port", "9100"], environ)
    assert (options.port, options.stage, options.upstream, options.post_429_rate) == (9100, "test", "bedrock", 0.25)


def test_fault_and_limit_flags() -> None:
    argv = [
        *("--post-latency-ms", "20", "--post-429-rate", "0.1", "--seed", "3"),
        *("--idle-timeout", "5", "--max-connection-duration", "60"),
        *("--log-level", "info", "-c", "sendTextTimeoutSeconds=60"),
    ]
    options = parse_options(argv, {})
    assert (options.post_latency_ms, options.post_429_rate, options.fault_seed) == (20, 0.1, 3)
    assert (options.idle_timeout_seconds, options.max_connection_seconds) == (5, 60)
    assert options.handler_log_level == "INFO"
    assert options.context_overrides == {"sendTextTimeoutSeconds": "60"}


def test_no_auth_drops_the_authorizer() -> None:
    assert parse_options(["--no-auth"], {}).authorizer is None


@pytest.mark.parametrize("argv", [["--post-429-rate", "1.5"], ["--upstream", "openai"], ["-c", "novalue"]])
def test_bad_values_exit_with_a_message(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse_options(argv, {})


def test_bad_environment_values_exit_with_a_message() -> None:
    with pytest.raises(SystemExit, match="LOCALGW_PORT"):
        parse_options([], {"LOCALGW_PORT": "eighty"})


def _read_until_command(process: subprocess.Popen[str], timeout: float = 60) -> tuple[str, list[str]]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            break
        lines.append(line)
        found = re.search(r"npx wscat -c (ws://127\.0\.0\.1:\d+/dev)$", line.strip())
        if found:
            return found.group(1), lines
    raise AssertionError("no wscat command printed:\n" + "".join(lines))


@pytest.mark.slow
def test_python_m_localgw_prints_how_to_connect_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "localgw", "--port", "0", "--no-auth"],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ws_url, banner = _read_until_command(process)
        assert any("DynamoDB" in line and "WsRelay-local" in line for line in banner)
        with connect(ws_url, open_timeout=30) as ws:
            ws.close()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert re.search(r"CONNECT +\S{16}", output), output
    assert re.search(r"DISCONNECT +\S{16} +1000", output), output
    assert "stopping" in output
