"""The WebSocket API: routes from lambdas.routes, Lambda proxy integrations, the stage, outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from lambdas.routes import AUTHORIZER, ROUTE_SELECTION_EXPRESSION, ROUTES
from stacks.config import RelayConfig
from stacks.constructs import openai_http
from stacks.relay_stack import MissingAuthorizerError
from tests.stack.conftest import EXTRA_ROUTE, OIDC_ISSUER, Synth, synth
from tests.stack.template_queries import function_by_handler, render, resources


def _route_integrations(template: dict[str, Any]) -> dict[str, str]:
    """Route key → handler string of the Lambda its integration invokes."""
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    functions = resources(template, "AWS::Lambda::Function")
    wired: dict[str, str] = {}
    for route in resources(template, "AWS::ApiGatewayV2::Route").values():
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        uri = render(integrations[integration_id]["Properties"]["IntegrationUri"])
        function_id = next(logical_id for logical_id in functions if f"${{{logical_id}.Arn}}" in uri)
        wired[route["Properties"]["RouteKey"]] = functions[function_id]["Properties"]["Handler"]
    return wired


def test_api_selects_routes_by_the_action_field(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Api",
        {"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": ROUTE_SELECTION_EXPRESSION},
    )
    assert ROUTE_SELECTION_EXPRESSION == "$request.body.action"


def test_every_route_invokes_its_own_handler(template_json: dict[str, Any]) -> None:
    assert _route_integrations(template_json) == {route.key: route.handler for route in ROUTES}
    assert {"$connect", "$disconnect", "$default", "sendtext"} <= set(_route_integrations(template_json))


def test_integrations_are_lambda_proxy_and_routes_have_no_route_responses(template: Template) -> None:
    integrations = template.find_resources("AWS::ApiGatewayV2::Integration")
    assert len(integrations) == len(ROUTES)
    assert {i["Properties"]["IntegrationType"] for i in integrations.values()} == {"AWS_PROXY"}
    template.resource_count_is("AWS::ApiGatewayV2::RouteResponse", 0)
    template.resource_count_is("AWS::ApiGatewayV2::IntegrationResponse", 0)
    for route in template.find_resources("AWS::ApiGatewayV2::Route").values():
        assert "RouteResponseSelectionExpression" not in route["Properties"]


def _invoke_permissions(template: dict[str, Any]) -> dict[str, str]:
    """Handler → rendered SourceArn of each permission API Gateway has to invoke a function."""
    functions = resources(template, "AWS::Lambda::Function")
    found = {}
    for permission in resources(template, "AWS::Lambda::Permission").values():
        props = permission["Properties"]
        assert (props["Action"], props["Principal"]) == ("lambda:InvokeFunction", "apigateway.amazonaws.com")
        function_id = props["FunctionName"]["Fn::GetAtt"][0]
        found[functions[function_id]["Properties"]["Handler"]] = render(props["SourceArn"])
    return found


def test_api_gateway_may_invoke_each_route_function_and_the_authorizer(template_json: dict[str, Any]) -> None:
    permissions = _invoke_permissions(template_json)
    http_api = {openai_http.HANDLER, openai_http.AUTHORIZER_HANDLER}  # tests/stack/test_stack_openai_http.py
    assert set(permissions) == {route.handler for route in ROUTES} | {AUTHORIZER.handler} | http_api


def test_connect_is_guarded_by_the_jwt_authorizer_with_no_identity_source(template_json: dict[str, Any]) -> None:
    ((authorizer_id, authorizer),) = resources(template_json, "AWS::ApiGatewayV2::Authorizer").items()
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "REQUEST"
    # Empty on purpose (docs/security.md): the function reads the query token or the header itself.
    assert AUTHORIZER.identity_sources == ()
    assert props["IdentitySource"] == []
    authorizer_function, _ = function_by_handler(template_json, AUTHORIZER.handler)
    assert f"${{{authorizer_function}.Arn}}/invocations" in render(props["AuthorizerUri"])

    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(template_json, "AWS::ApiGatewayV2::Route").values()
    }
    assert (routes["$connect"]["AuthorizationType"], routes["$connect"]["AuthorizerId"]) == (
        "CUSTOM",
        {"Ref": authorizer_id},
    )
    # API Gateway allows authorizers on $connect only; the other routes ride on the authorized connection.
    assert {key: r["AuthorizationType"] for key, r in routes.items() if key != "$connect"} == {
        route.key: "NONE" for route in ROUTES if route.key != "$connect"
    }


def test_only_this_apis_authorizer_may_invoke_the_authorizer_function(template_json: dict[str, Any]) -> None:
    (api_id,) = resources(template_json, "AWS::ApiGatewayV2::Api")
    (authorizer_id,) = resources(template_json, "AWS::ApiGatewayV2::Authorizer")
    # Exact: this API and this authorizer, no stage or route wildcard (the CDK scopes it this way itself).
    assert _invoke_permissions(template_json)[AUTHORIZER.handler] == (
        f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{{api_id}}}/authorizers/"
        f"${{{authorizer_id}}}"
    )


def test_the_stack_refuses_to_deploy_without_an_authorizer() -> None:
    with pytest.raises(MissingAuthorizerError, match="always authenticates"):
        synth(authorizer=None)


def test_a_route_added_to_routes_appears_with_its_function(extended_synth: Synth) -> None:
    wired = _route_integrations(extended_synth.json)
    assert wired[EXTRA_ROUTE.key] == EXTRA_ROUTE.handler
    _, props = function_by_handler(extended_synth.json, EXTRA_ROUTE.handler)
    assert props["Timeout"] == extended_synth.config.send_text_timeout_seconds


def test_authorizer_guards_connect_only(extended_synth: Synth) -> None:
    extended_synth.template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {"AuthorizerType": "REQUEST", "IdentitySource": ["route.request.querystring.token"]},
    )
    routes = extended_synth.template.find_resources("AWS::ApiGatewayV2::Route")
    authorization = {r["Properties"]["RouteKey"]: r["Properties"]["AuthorizationType"] for r in routes.values()}
    assert authorization.pop("$connect") == "CUSTOM"
    assert set(authorization.values()) == {"NONE"}


def test_stage_auto_deploys_with_default_route_throttling(template: Template, config: RelayConfig) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": config.stage,
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": config.throttling_rate_limit,
                "ThrottlingBurstLimit": config.throttling_burst_limit,
            },
        },
    )


def test_access_log_is_json_with_request_id_and_without_message_bodies(template_json: dict[str, Any]) -> None:
    (stage,) = resources(template_json, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    log_groups = resources(template_json, "AWS::Logs::LogGroup")
    assert settings["DestinationArn"]["Fn::GetAtt"][0] in log_groups

    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert {"routeKey", "connectionId", "status", "eventType"} <= set(fields)
    assert not [value for value in fields.values() if "body" in value.lower()]
    # Authorizer context may carry identity claims: only the authorizer's error message is logged.
    assert [value for value in fields.values() if value.startswith("$context.authorizer")] == [
        "$context.authorizer.error"
    ]


def test_access_logging_has_the_account_cloudwatch_role_it_needs(template_json: dict[str, Any]) -> None:
    ((account_id, account),) = resources(template_json, "AWS::ApiGateway::Account").items()
    role = template_json["Resources"][account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    # Other APIs in the account rely on the setting: deleting the stack must not delete the role under them.
    assert role["DeletionPolicy"] == "Retain"
    (stage,) = resources(template_json, "AWS::ApiGatewayV2::Stage").values()
    assert account_id in stage["DependsOn"]


def test_account_cloudwatch_role_can_be_left_to_the_account_owner(overridden_synth: Synth) -> None:
    overridden_synth.template.resource_count_is("AWS::ApiGateway::Account", 0)
    assert not [
        role
        for role in overridden_synth.template.find_resources("AWS::IAM::Role").values()
        if "apigateway.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    ]


def test_outputs_give_the_urls_table_name_and_the_user_pool_to_sign_in_with(template_json: dict[str, Any]) -> None:
    outputs = template_json["Outputs"]
    (pool_id,) = resources(template_json, "AWS::Cognito::UserPool")
    (client_id,) = resources(template_json, "AWS::Cognito::UserPoolClient")
    assert outputs["UserPoolId"]["Value"] == {"Ref": pool_id}
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": client_id}
    assert render(outputs["AuthIssuer"]["Value"]) == (
        f"https://cognito-idp.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{pool_id}}}"
    )
    (api_id,) = resources(template_json, "AWS::ApiGatewayV2::Api")
    (table_id,) = resources(template_json, "AWS::DynamoDB::Table")
    assert render(outputs["WebSocketUrl"]["Value"]) == (
        f"wss://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/dev"
    )
    assert render(outputs["ConnectionsUrl"]["Value"]) == (
        f"https://${{{api_id}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/dev/@connections"
    )
    assert outputs["TableName"]["Value"] == {"Ref": table_id}


def test_oidc_outputs_name_the_issuer_and_no_user_pool(oidc_synth: Synth) -> None:
    outputs = oidc_synth.json["Outputs"]
    assert outputs["AuthIssuer"]["Value"] == OIDC_ISSUER
    assert "UserPoolId" not in outputs and "UserPoolClientId" not in outputs
    assert {"WebSocketUrl", "ConnectionsUrl", "TableName"} <= set(outputs)
