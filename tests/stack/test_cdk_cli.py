"""The real CDK CLI (node_modules, pinned by package-lock.json) synthesizes the app offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas import env_vars
from lambdas.catalogue import parse_catalogue
from lambdas.routes import AUTHORIZER, ROUTES
from tests.stack.cdk_cli import cdk_synth

# A catalogue as a shell user passes it: JSON text on the command line.
CLI_CATALOGUE = {
    "default": "haiku",
    "models": {
        "haiku": {"provider": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
        "sm": {"provider": "sagemaker", "endpointName": "llama3-8b", "format": "lmi"},
    },
}


@pytest.mark.slow
def test_cdk_synth_writes_the_stack_template(tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    template = cdk_synth(out, f"models={json.dumps(CLI_CATALOGUE)}")
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
    served = functions["lambdas.handlers.sendtext.handler"]["Environment"]["Variables"][env_vars.MODELS]
    assert parse_catalogue(served) == parse_catalogue(CLI_CATALOGUE)
    # cdk-nag ran inside the synth and found nothing to stop it.
    report = json.loads((out / "validation-report.json").read_text())
    assert [p for p in report["pluginReports"] if p.get("conclusion") == "failure"] == []
