"""One Lambda per route from one code asset: runtime, architecture, sizing, environment, logs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from lambdas.routes import ROUTES, Route
from stacks.config import LOG_RETENTION_DAYS, RelayConfig
from stacks.constructs import log_groups
from tests.stack.conftest import Synth
from tests.stack.template_queries import function_by_handler, resources


def _expected_size(config: RelayConfig, route: Route) -> tuple[int, int]:
    if route.streaming:
        return config.send_text_memory_mb, config.send_text_timeout_seconds
    return config.function_memory_mb, config.function_timeout_seconds


def test_one_function_per_route_all_python_3_13_on_arm64(template_json: dict[str, Any]) -> None:
    functions = resources(template_json, "AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(r.handler for r in ROUTES)
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


def test_functions_get_the_configured_environment(template_json: dict[str, Any], config: RelayConfig) -> None:
    (table_id,) = resources(template_json, "AWS::DynamoDB::Table")
    expected = config.function_environment("TABLE")
    for route in ROUTES:
        _, props = function_by_handler(template_json, route.handler)
        variables = dict(props["Environment"]["Variables"])
        assert variables.pop("RELAY_TABLE_NAME") == {"Ref": table_id}
        expected_rest = {k: v for k, v in expected.items() if k != "RELAY_TABLE_NAME"}
        assert variables == expected_rest


def test_each_function_logs_to_its_own_group_with_retention(template_json: dict[str, Any], config: RelayConfig) -> None:
    log_group_ids = set()
    for route in ROUTES:
        _, props = function_by_handler(template_json, route.handler)
        log_group_ids.add(props["LoggingConfig"]["LogGroup"]["Ref"])
    assert len(log_group_ids) == len(ROUTES)
    for log_group_id in log_group_ids:
        group = template_json["Resources"][log_group_id]
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days
        assert group["DeletionPolicy"] == "Retain"


def test_no_log_retention_custom_resource(template: Template) -> None:
    # The deprecated logRetention property adds a Lambda-backed custom resource with a wildcard IAM policy.
    template.resource_count_is("Custom::LogRetention", 0)
    assert len(template.find_resources("AWS::Lambda::Function")) == len(ROUTES)


def test_destroy_policy_and_retention_override_reach_every_log_group(overridden_synth: Synth) -> None:
    groups = resources(overridden_synth.json, "AWS::Logs::LogGroup").values()
    assert {g["Properties"]["RetentionInDays"] for g in groups} == {7}
    assert {g["DeletionPolicy"] for g in groups} == {"Delete"}


def test_every_accepted_retention_maps_to_a_cloudwatch_value() -> None:
    assert sorted(log_groups._RETENTION) == sorted(LOG_RETENTION_DAYS)
