"""The real CDK CLI synthesizes the app with the web client switched on from the command line, cdk-nag included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.stack.cdk_cli import cdk_synth


@pytest.mark.slow
def test_cdk_synth_with_the_web_client(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    template = cdk_synth(out, "webClient=true")
    # The web client's resources (the attachments bucket, issue 15, is another construct's).
    types = [r["Type"] for logical_id, r in template["Resources"].items() if not logical_id.startswith("Attachments")]
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
