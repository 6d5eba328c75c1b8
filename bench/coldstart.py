"""Cold init: what the relay's handler costs a fresh interpreter before its first answer, against bare boto3.

ours = `import lambdas.handlers.sendtext` + the three clients the handler creates on its first call (model,
@connections, DynamoDB for quotas); bare = `import boto3` + the same three clients with plain `boto3.client()`.
Each side runs in its own fresh interpreter, alternating, with a clean environment (dummy credentials, region
us-east-1, no endpoint overrides, metadata service off): creating clients never touches the network. The timed part
is measured inside the child (perf_counter around imports and clients); the child's whole life (interpreter
start-up included) is recorded too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.metrics import median

REPO_ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS_URL = "https://abcdefghij.execute-api.us-east-1.amazonaws.com/dev"

_PRELUDE = "import json, time\n_t0 = time.perf_counter()\n"
_REPORT = "print(json.dumps({'ms': (time.perf_counter() - _t0) * 1000}))\n"

OURS = (
    _PRELUDE
    + "import lambdas.handlers.sendtext\n"
    + "from lambdas import clients\n"
    + "clients.bedrock_runtime()\n"
    + f"clients.connections({CONNECTIONS_URL!r})\n"
    + "clients.dynamodb()\n"
    + _REPORT
)
BARE = (
    _PRELUDE
    + "import boto3\n"
    + "boto3.client('bedrock-runtime')\n"
    + f"boto3.client('apigatewaymanagementapi', endpoint_url={CONNECTIONS_URL!r})\n"
    + "boto3.client('dynamodb')\n"
    + _REPORT
)


@dataclass(frozen=True, slots=True)
class ColdInit:
    ours_ms: list[float]
    bare_ms: list[float]
    ours_process_ms: list[float]
    bare_process_ms: list[float]

    @property
    def ratio(self) -> float:
        return median(self.ours_ms) / median(self.bare_ms)

    def to_json(self) -> dict[str, Any]:
        return {
            "what": "median of fresh interpreters; ms = imports + 3 clients timed inside the child",
            "ours_median_ms": round(median(self.ours_ms), 1),
            "bare_median_ms": round(median(self.bare_ms), 1),
            "ratio": round(self.ratio, 3),
            "ours_min_ms": round(min(self.ours_ms), 1),
            "bare_min_ms": round(min(self.bare_ms), 1),
            "ratio_of_minimums": round(min(self.ours_ms) / min(self.bare_ms), 3),
            "ours_ms": [round(v, 1) for v in self.ours_ms],
            "bare_ms": [round(v, 1) for v in self.bare_ms],
            "ours_process_ms": [round(v, 1) for v in self.ours_process_ms],
            "bare_process_ms": [round(v, 1) for v in self.bare_process_ms],
        }


def clean_environment(home: str) -> dict[str, str]:
    # Nothing inherited: no endpoint overrides from a running localgw, no real credentials, no ~/.aws files.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "PYTHONPATH": str(REPO_ROOT),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _run(script: str, env: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    process_ms = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"cold-init child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["ms"]), process_ms


def measure_cold_init(runs: int, progress: Callable[[str], None]) -> ColdInit:
    ours: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        env = clean_environment(home)
        if runs > 1:
            # One untimed run each first: byte-code caches and the page cache are then warm for both sides alike.
            _run(OURS, env)
            _run(BARE, env)
        for index in range(runs):
            ours.append(_run(OURS, env))
            bare.append(_run(BARE, env))
            progress(f"cold init {index + 1}/{runs}: ours {ours[-1][0]:.0f} ms, bare boto3 {bare[-1][0]:.0f} ms")
    return ColdInit(
        ours_ms=[timed for timed, _ in ours],
        bare_ms=[timed for timed, _ in bare],
        ours_process_ms=[whole for _, whole in ours],
        bare_process_ms=[whole for _, whole in bare],
    )
