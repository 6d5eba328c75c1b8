"""Tracing costs nothing when off (the X-Ray SDK is never imported: Powertools' package imports its Tracer module
for any Logger, and that module loads the SDK lazily) and wraps the pipeline's stages when on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lambdas import env_vars, tracing
from tests import REPO_ROOT


def _imports_after_an_answer_module(tracing_value: str) -> str:
    code = (
        "import sys, lambdas.handlers.sendtext, lambdas.tracing as t\n"
        "with t.span('model stream'):\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('aws_xray_sdk')))\n"
    )
    env = {"PATH": "/usr/bin:/bin", env_vars.TRACING: tracing_value, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_off_the_tracer_and_the_xray_sdk_are_never_imported() -> None:
    assert _imports_after_an_answer_module("") == "[]"


def test_on_the_tracer_is_loaded_and_spans_run_their_block() -> None:
    loaded = _imports_after_an_answer_module("true")
    assert "aws_xray_sdk.core" in loaded


def test_a_span_runs_its_block_and_passes_exceptions_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_vars.TRACING, "true")
    tracing.tracer.cache_clear()
    try:
        ran = []
        with tracing.span("admission"):
            ran.append(1)
        with pytest.raises(KeyError), tracing.span("finish"):
            raise KeyError("x")
        assert ran == [1] and tracing.tracer() is not None
    finally:
        tracing.tracer.cache_clear()
