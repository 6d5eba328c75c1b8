"""Running the real CDK CLI (node_modules, pinned by package-lock.json) offline, for the CLI tests."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CDK_BIN = REPO / "node_modules" / ".bin" / "cdk"


def cdk_synth(out: Path, *context: str) -> dict[str, Any]:
    """`npx cdk synth` with `-c skipBundling=true` and each `key=value` of `context`; the WsRelay template.

    skipBundling: the CLI refuses `-c aws:cdk:bundling-stacks=[]` (context keys starting with aws: are reserved), so
    the app maps its own switch onto it. The output goes to `out`, not the shared working tree's cdk.out.
    """
    assert CDK_BIN.exists(), (
        f"{CDK_BIN} is missing: `make test` installs the CDK CLI (it runs `npm ci` from package-lock.json); "
        "or run `npm ci` in the repository root"
    )
    env = {
        **os.environ,
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    flags = [flag for pair in context for flag in ("-c", pair)]
    result = subprocess.run(
        [
            *("npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices"),
            *("-c", "skipBundling=true", *flags, "-o", str(out)),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads((out / "WsRelay.template.json").read_text())
