"""One Lambda per route plus the `$connect` authorizer, from one code asset: runtime, architecture, sizing,
environment, logs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from lambdas import env_vars
from lambdas.catalogue import parse_catalogue, single_model_catalogue, to_env_value
from lambdas.routes import AUTHORIZER, ROUTES, Route
from lambdas.store import quotas
from stacks.config import LOG_RETENTION_DAYS, RelayConfig
from stacks.constructs import log_groups, openai_http
from tests.stack.conftest import CATALOGUE, OIDC_ISSUER, Synth
from tests.stack.template_queries import function_by_handler, render, resources

# The OpenAI-compatible HTTP API adds its function and authorizer (tests/stack/test_stack_openai_http.py).
HTTP_API_HANDLERS = [openai_http.HANDLER, openai_http.AUTHORIZER_HANDLER]
HANDLERS = sorted([*(r.handler for r in ROUTES), AUTHORIZER.handler, *HTTP_API_HANDLERS])
QUOTA_VARIABLES = {env_vars.QUOTA_INFLIGHT, env_vars.QUOTA_DAILY_OUTPUT_TOKENS}


def _expected_size(config: RelayConfig, route: Route) -> tuple[int, int]:
    if route.streaming:
        return config.send_text_memory_mb, config.send_text_timeout_seconds
    return config.function_memory_mb, config.function_timeout_seconds


def test_one_function_per_route_and_the_authorizer_all_python_3_13_on_arm64(template_json: dict[str, Any]) -> None:
    functions = resources(template_json, "AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == HANDLERS
    for function in functions.values():
        assert function["Properties"]["Runtime"] == "python3.13"
        assert function["Properties"]["Architectures"] == ["arm64"]


def test_all_functions_share_one_code_asset(template_json: dict[str, Any]) -> None:
    codes = {str(f["Properties"]["Code"]) for f in resources(template_json, "AWS::Lambda::Function").values()}
    assert len(codes) == 1


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_memory_and_timeout_follow_the_streaming_flag(default_synth: Synth, route: Route) -> None:
    _, props = function_by_handler(default_synth.json, route.handler)
    assert (props["MemorySize"], props["Timeout"]) == _expected_size(default_synth.config, route)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_overridden_sizes_reach_the_functions(overridden_synth: Synth, route: Route) -> None:
    _, props = function_by_handler(overridden_synth.json, route.handler)
    assert (props["MemorySize"], props["Timeout"]) == _expected_size(overridden_synth.config, route)
    assert props["Timeout"] in (600, 20)


def _variables(synth: Synth, handler: str) -> dict[str, Any]:
    _, props = function_by_handler(synth.json, handler)
    return dict(props["Environment"]["Variables"])


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_route_functions_get_the_configured_environment(default_synth: Synth, route: Route) -> None:
    (table_id,) = resources(default_synth.json, "AWS::DynamoDB::Table")
    # SendText serves the catalogue and enforces the quotas; Models lists the catalogue; the others need neither.
    reads_catalogue = route.key in ("sendtext", "models")
    reads_quotas = route.key == "sendtext"
    expected = default_synth.config.function_environment("TABLE", catalogue=reads_catalogue, quotas=reads_quotas)
    variables = _variables(default_synth, route.handler)
    assert variables.pop(env_vars.TABLE_NAME) == {"Ref": table_id}
    # attach and sendtext also name the attachments bucket (tests/stack/test_stack_attachments.py checks it).
    assert (variables.pop(env_vars.ATTACHMENTS_BUCKET, None) is not None) == (route.key in ("attach", "sendtext"))
    assert variables == {k: v for k, v in expected.items() if k != env_vars.TABLE_NAME}
    assert env_vars.MODELS in variables if reads_catalogue else env_vars.MODELS not in variables
    assert set(variables) >= QUOTA_VARIABLES if reads_quotas else not set(variables) & QUOTA_VARIABLES
    assert variables[env_vars.MODEL_ID] == default_synth.config.model_id


def test_local_runs_get_every_variable_the_deployed_functions_get(config: RelayConfig) -> None:
    # localgw runs every handler in one process with function_environment()'s defaults: the union of them all.
    everything = config.function_environment("TABLE")
    assert {env_vars.MODELS, *QUOTA_VARIABLES, env_vars.MODEL_ID, env_vars.TABLE_NAME, "POWERTOOLS_LOG_LEVEL"} <= set(
        everything
    )
    assert set(config.function_environment("TABLE", catalogue=False, quotas=False)) == set(everything) - {
        env_vars.MODELS,
        *QUOTA_VARIABLES,
    }


def test_without_a_catalogue_relay_models_is_the_single_model_id(default_synth: Synth) -> None:
    variables = _variables(default_synth, "lambdas.handlers.sendtext.handler")
    assert variables[env_vars.MODELS] == to_env_value(single_model_catalogue(default_synth.config.model_id))
    assert parse_catalogue(variables[env_vars.MODELS]).aliases == [default_synth.config.model_id]


def test_a_catalogue_reaches_sendtext_and_models(catalogue_synth: Synth) -> None:
    expected = to_env_value(CATALOGUE)
    for handler in ("lambdas.handlers.sendtext.handler", "lambdas.handlers.models.handler"):
        assert _variables(catalogue_synth, handler)[env_vars.MODELS] == expected
    assert env_vars.MODELS not in _variables(catalogue_synth, "lambdas.handlers.default.handler")


def test_quota_limits_reach_the_streaming_function(default_synth: Synth, overridden_synth: Synth) -> None:
    handler = "lambdas.handlers.sendtext.handler"
    assert {k: v for k, v in _variables(default_synth, handler).items() if k in QUOTA_VARIABLES} == {
        env_vars.QUOTA_INFLIGHT: str(quotas.DEFAULT_INFLIGHT),
        env_vars.QUOTA_DAILY_OUTPUT_TOKENS: str(quotas.DEFAULT_DAILY_OUTPUT_TOKENS),
    }
    assert {k: v for k, v in _variables(overridden_synth, handler).items() if k in QUOTA_VARIABLES} == {
        env_vars.QUOTA_INFLIGHT: "5",
        env_vars.QUOTA_DAILY_OUTPUT_TOKENS: "0",
    }


def test_the_authorizer_is_built_like_the_routes(default_synth: Synth) -> None:
    functions = resources(default_synth.json, "AWS::Lambda::Function")
    _, authorizer = function_by_handler(default_synth.json, AUTHORIZER.handler)
    _, connect = function_by_handler(default_synth.json, "lambdas.handlers.connect.handler")
    for key in ("Code", "Runtime", "Architectures", "MemorySize", "Timeout"):
        assert authorizer[key] == connect[key], key
    assert authorizer["LoggingConfig"]["LogGroup"]["Ref"] in resources(default_synth.json, "AWS::Logs::LogGroup")
    assert len(functions) == len(ROUTES) + 1 + len(HTTP_API_HANDLERS)


def test_the_cognito_authorizer_gets_the_pool_issuer_and_app_client(default_synth: Synth) -> None:
    variables = _variables(default_synth, AUTHORIZER.handler)
    (pool_id,) = resources(default_synth.json, "AWS::Cognito::UserPool")
    (client_id,) = resources(default_synth.json, "AWS::Cognito::UserPoolClient")
    assert render(variables.pop(env_vars.AUTH_ISSUER)) == (
        f"https://cognito-idp.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{pool_id}}}"
    )
    assert variables.pop(env_vars.AUTH_AUDIENCE) == {"Ref": client_id}
    # Only the relay's logging settings besides: no table, no model, no catalogue.
    assert variables == {
        env_vars.AUTH_TOKEN_USE: "access",
        env_vars.AUTH_LEEWAY_SECONDS: "60",
        **default_synth.config.observability_environment(),
    }


def test_the_oidc_authorizer_gets_the_issuer_from_the_context(oidc_synth: Synth) -> None:
    assert _variables(oidc_synth, AUTHORIZER.handler) == {
        env_vars.AUTH_ISSUER: OIDC_ISSUER,
        env_vars.AUTH_AUDIENCE: "relay-api,relay-cli",
        env_vars.AUTH_TOKEN_USE: "access",
        env_vars.AUTH_OIDC_DISCOVERY: "true",
        env_vars.AUTH_LEEWAY_SECONDS: "60",
        **oidc_synth.config.observability_environment(),
    }


def test_the_authorizer_leeway_follows_the_context(overridden_synth: Synth) -> None:
    assert _variables(overridden_synth, AUTHORIZER.handler)[env_vars.AUTH_LEEWAY_SECONDS] == "30"


def test_each_function_logs_to_its_own_group_with_retention(template_json: dict[str, Any], config: RelayConfig) -> None:
    log_group_ids = set()
    for handler in HANDLERS:
        _, props = function_by_handler(template_json, handler)
        log_group_ids.add(props["LoggingConfig"]["LogGroup"]["Ref"])
    assert len(log_group_ids) == len(HANDLERS)
    for log_group_id in log_group_ids:
        group = template_json["Resources"][log_group_id]
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days
        assert group["DeletionPolicy"] == "Retain"


def test_no_log_retention_custom_resource(template: Template) -> None:
    # The deprecated logRetention property adds a Lambda-backed custom resource with a wildcard IAM policy.
    template.resource_count_is("Custom::LogRetention", 0)
    assert len(template.find_resources("AWS::Lambda::Function")) == len(HANDLERS)


def test_destroy_policy_and_retention_override_reach_every_log_group(overridden_synth: Synth) -> None:
    groups = resources(overridden_synth.json, "AWS::Logs::LogGroup").values()
    assert {g["Properties"]["RetentionInDays"] for g in groups} == {7}
    assert {g["DeletionPolicy"] for g in groups} == {"Delete"}


def test_every_accepted_retention_maps_to_a_cloudwatch_value() -> None:
    assert sorted(log_groups._RETENTION) == sorted(LOG_RETENTION_DAYS)
