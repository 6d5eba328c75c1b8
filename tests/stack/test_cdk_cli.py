"""The real CDK CLI (node_modules, pinned by package-lock.json) synthesizes the app offline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lambdas.models import ENV_MODELS, parse_catalogue
from lambdas.routes import AUTHORIZER, ROUTES

# A catalogue as a shell user passes it: JSON text on the command line.
CLI_CATALOGUE = {
    "default": "haiku",
    "models": {
        "haiku": {"provider": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
        "sm": {"provider": "sagemaker", "endpointName": "llama3-8b", "format": "lmi"},
    },
}

REPO = Path(__file__).resolve().parents[2]
CDK_BIN = REPO / "node_modules" / ".bin" / "cdk"


@pytest.mark.slow
def test_cdk_synth_writes_the_stack_template(tmp_path: Path) -> None:
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
    out = tmp_path / "cdk.out"
    # skipBundling: the CLI refuses `-c aws:cdk:bundling-stacks=[]` (context keys starting with aws: are reserved),
    # so the app maps its own switch onto it. The output goes to a temporary cdk.out, not the shared working tree's.
    result = subprocess.run(
        [
            *("npx", "--no-install", "cdk", "synth", "--quiet", "--no-notices"),
            *("-c", "skipBundling=true", "-c", f"models={json.dumps(CLI_CATALOGUE)}", "-o", str(out)),
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
    route_keys = {
        resource["Properties"]["RouteKey"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert route_keys == {route.key for route in ROUTES}
    # The deployed shape: $connect behind the authorizer, the stack's own user pool, the catalogue in the functions.
    types = [resource["Type"] for resource in template["Resources"].values()]
    assert types.count("AWS::ApiGatewayV2::Authorizer") == types.count("AWS::Cognito::UserPool") == 1
    assert {"UserPoolId", "UserPoolClientId", "AuthIssuer", "WebSocketUrl"} <= set(template["Outputs"])
    functions = {
        resource["Properties"]["Handler"]: resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert AUTHORIZER.handler in functions
    served = functions["lambdas.handlers.sendtext.handler"]["Environment"]["Variables"][ENV_MODELS]
    assert parse_catalogue(served) == parse_catalogue(CLI_CATALOGUE)
    # cdk-nag ran inside the synth and found nothing to stop it.
    report = json.loads((out / "validation-report.json").read_text())
    assert [p for p in report["pluginReports"] if p.get("conclusion") == "failure"] == []
