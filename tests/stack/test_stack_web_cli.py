"""The real CDK CLI synthesizes the app with the web client switched on from the command line, cdk-nag included."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CDK_BIN = REPO / "node_modules" / ".bin" / "cdk"


@pytest.mark.slow
def test_cdk_synth_with_the_web_client(tmp_path: Path) -> None:
    assert CDK_BIN.exists(), f"{CDK_BIN} is missing: run `npm ci` in the repository root (`make test` does)"
    env = {
        **os.environ,
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [
            *("npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices"),
            *("-c", "webClient=true", "-c", "skipBundling=true", "-o", str(out)),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    template = json.loads((out / "WsRelay.template.json").read_text())
    types = [resource["Type"] for resource in template["Resources"].values()]
    for resource_type in ("AWS::S3::Bucket", "AWS::CloudFront::Distribution", "Custom::CDKBucketDeployment"):
        assert types.count(resource_type) == 1, resource_type
    assert "WebClientUrl" in template["Outputs"]
    # cdk-nag ran inside the synth and found nothing to stop it.
    report = json.loads((out / "validation-report.json").read_text())
    assert [p for p in report["pluginReports"] if p.get("conclusion") == "failure"] == []
    # The client's files were staged next to the template, ready for `cdk deploy` to upload.
    (deployment,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"]
    files_key = deployment["Properties"]["SourceObjectKeys"][0]
    assert (out / f"asset.{files_key.removesuffix('.zip')}" / "index.html").is_file()
