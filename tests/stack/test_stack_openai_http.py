"""The OpenAI-compatible HTTP API in the template: streaming integrations, the authorizer on every method, the Lambda
Web Adapter layer, least-privilege IAM, throttling and access logs, and `httpApi=false` leaving it all out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas import env_vars
from stacks.config import ConfigError, load_config
from stacks.constructs.openai_http import AUTHORIZER_HANDLER, HANDLER, QUOTA_ACTIONS
from tests.stack.conftest import Synth, synth
from tests.stack.template_queries import actions, function_by_handler, function_statements, render, resources

SENDTEXT = "lambdas.handlers.sendtext.handler"
MODEL_SERVICES = ("bedrock:", "sagemaker:", "secretsmanager:", "ssm:", "kms:")
DEFAULT_LAYER = "arn:${AWS::Partition}:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:26"


@pytest.fixture(scope="session")
def without_http_api() -> Synth:
    return synth({"httpApi": "false"})


@pytest.fixture(scope="session")
def own_layer_synth() -> Synth:
    return synth({"httpAdapterLayerArn": "arn:aws:lambda:eu-west-1:123456789012:layer:MyAdapter:3"})


def _methods(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        m["Properties"]["HttpMethod"]: m["Properties"]
        for m in resources(synth.json, "AWS::ApiGateway::Method").values()
    }


def _http_function(synth: Synth) -> dict[str, Any]:
    return dict(function_by_handler(synth.json, HANDLER)[1])


def test_every_method_streams_from_the_http_function_through_lambda_proxy(default_synth: Synth) -> None:
    methods = _methods(default_synth)
    assert set(methods) == {"POST", "GET"}
    function_id = function_by_handler(default_synth.json, HANDLER)[0]
    for method in methods.values():
        integration = method["Integration"]
        assert (integration["Type"], integration["ResponseTransferMode"]) == ("AWS_PROXY", "STREAM")
        uri = render(integration["Uri"])
        assert uri.endswith("/response-streaming-invocations") and function_id in uri
        # Up to the function's timeout, not REST's default 29 s.
        assert integration["TimeoutInMillis"] == default_synth.config.send_text_timeout_seconds * 1000


def test_the_authorizer_guards_every_method_and_is_never_cached(default_synth: Synth) -> None:
    (authorizer_id, authorizer), *others = resources(default_synth.json, "AWS::ApiGateway::Authorizer").items()
    assert not others
    for method in _methods(default_synth).values():
        assert method["AuthorizationType"] == "CUSTOM"
        assert method["AuthorizerId"] == {"Ref": authorizer_id}
        assert method["RequestParameters"] == {"method.request.header.Authorization": True}
    props = authorizer["Properties"]
    assert (props["Type"], props["IdentitySource"], props["AuthorizerResultTtlInSeconds"]) == (
        "REQUEST", "method.request.header.Authorization", 0
    )  # fmt: skip
    authorizer_function = function_by_handler(default_synth.json, AUTHORIZER_HANDLER)[0]
    assert authorizer_function in json.dumps(props["AuthorizerUri"])


def test_the_function_runs_behind_the_web_adapter_layer_in_response_stream_mode(default_synth: Synth) -> None:
    function = _http_function(default_synth)
    assert [render(layer) for layer in function["Layers"]] == [DEFAULT_LAYER]
    assert function["Architectures"] == ["arm64"]
    variables = function["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert variables["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert variables["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    assert function["Timeout"] == default_synth.config.send_text_timeout_seconds


def test_the_http_function_sends_keep_alives_every_15_seconds_by_default(default_synth: Synth) -> None:
    # Under API Gateway's 5-minute idle timeout for a REST stream (30 s edge-optimized) with room to spare.
    variables = _http_function(default_synth)["Environment"]["Variables"]
    assert variables[env_vars.SSE_KEEPALIVE_SECONDS] == "15"


def test_the_layer_is_configurable_by_context(own_layer_synth: Synth) -> None:
    layers = [render(layer) for layer in _http_function(own_layer_synth)["Layers"]]
    assert layers == ["arn:aws:lambda:eu-west-1:123456789012:layer:MyAdapter:3"]
    assert synth({"httpAdapterLayerVersion": "27"}).json  # a newer AWS layer version is one context key away
    with pytest.raises(ConfigError, match="httpAdapterLayerArn"):
        load_config({"httpAdapterLayerArn": "arn:aws:lambda:*:*:layer:x:1"})


def test_the_http_function_reaches_only_quota_items_and_the_catalogues_models(default_synth: Synth) -> None:
    statements = function_statements(default_synth.json, HANDLER)
    (quota,) = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert sorted(actions(quota)) == sorted(QUOTA_ACTIONS)
    assert quota["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["USER#*"]}}
    assert not [s for s in statements if any(a.startswith("execute-api:") for a in actions(s))]
    # The model grants are sendtext's, statement for statement (exact ARNs: tests/stack/test_stack_iam.py).
    assert _model_grants(statements) == _model_grants(function_statements(default_synth.json, SENDTEXT))
    assert _model_grants(statements)


def _model_grants(statements: list[Any]) -> list[tuple[str, ...]]:
    return sorted(
        (*sorted(actions(s)), json.dumps(s["Resource"], sort_keys=True), json.dumps(s.get("Condition"), sort_keys=True))
        for s in statements
        if any(a.startswith(MODEL_SERVICES) for a in actions(s))
    )


def test_the_http_authorizer_has_no_aws_permission(default_synth: Synth) -> None:
    statements = function_statements(default_synth.json, AUTHORIZER_HANDLER)
    assert all(a.startswith("logs:") for s in statements for a in actions(s))


def test_the_model_grants_follow_the_catalogue(catalogue_synth: Synth) -> None:
    http = _model_grants(function_statements(catalogue_synth.json, HANDLER))
    assert http == _model_grants(function_statements(catalogue_synth.json, SENDTEXT))
    assert {"sagemaker:InvokeEndpointWithResponseStream", "ssm:GetParameter"} <= {a for grant in http for a in grant}


def test_the_stage_is_throttled_and_access_logged_without_request_bodies(overridden_synth: Synth) -> None:
    (stage,) = resources(overridden_synth.json, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "prod"
    (settings,) = props["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (12.5, 25)
    assert settings["DataTraceEnabled"] is False and settings["LoggingLevel"] == "ERROR"
    assert "$context.requestId" in props["AccessLogSetting"]["Format"]
    (api,) = resources(overridden_synth.json, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}


def test_gateway_refusals_are_in_openai_error_shape(default_synth: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(default_synth.json, "AWS::ApiGateway::GatewayResponse").values()
    }
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["StatusCode"] == "401"
    assert '"code":"invalid_api_key"' in unauthorized["ResponseTemplates"]["application/json"]
    assert {"ACCESS_DENIED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    assert "StatusCode" not in responses["DEFAULT_5XX"]  # API Gateway's own status is kept


def test_the_base_url_is_an_output(default_synth: Synth) -> None:
    url = render(default_synth.json["Outputs"]["OpenAiBaseUrl"]["Value"])
    assert url.startswith("https://") and url.endswith("/v1")


def test_http_api_false_leaves_the_http_api_out(without_http_api: Synth) -> None:
    assert not resources(without_http_api.json, "AWS::ApiGateway::RestApi")
    assert "OpenAiBaseUrl" not in without_http_api.json["Outputs"]
    with pytest.raises(Exception):  # noqa: B017 — no function with that handler exists
        function_by_handler(without_http_api.json, HANDLER)


def test_only_this_apis_methods_and_authorizer_may_invoke_its_functions(default_synth: Synth) -> None:
    (api_id,) = resources(default_synth.json, "AWS::ApiGateway::RestApi")
    function_id = function_by_handler(default_synth.json, HANDLER)[0]
    arns = sorted(
        render(p["Properties"]["SourceArn"])
        for p in resources(default_synth.json, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"]["Fn::GetAtt"][0] == function_id
    )
    prefix = f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/"
    # One per method, on the deployed stage only (none for the console's test-invoke stage).
    assert [arn.removeprefix(prefix).split("/", 1)[1] for arn in arns] == ["GET/v1/models", "POST/v1/chat/completions"]
    assert all(arn.startswith(prefix) and "test-invoke" not in arn for arn in arns)
