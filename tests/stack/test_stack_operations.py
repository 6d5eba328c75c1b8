"""Operations in the template: the dashboard names only metrics the code emits, the alarms notify an encrypted topic
(an address subscribed on request), and the cost caps and tracing follow their switches."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Match, Template

from lambdas.observability import NAMESPACE
from stacks.config import ConfigError, load_config
from stacks.constructs.bundling import BUNDLING_STACKS_CONTEXT
from stacks.constructs.operations import RELAY_METRICS, relay_metric
from stacks.relay_stack import RelayStack
from tests import REPO_ROOT
from tests.stack.conftest import TABLE_KEY_ARN, Synth, synth

LAMBDAS = REPO_ROOT / "lambdas"


def emitted_metric_names(root: Path = LAMBDAS) -> set[str]:
    """Every metric name the functions publish: `….add_metric(name="X", …)` and `count("X", …)` with a literal name."""
    names: set[str] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if called == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(keyword.value.value)
            elif called == "count" and node.args and isinstance(node.args[0], ast.Constant):
                names.add(node.args[0].value)
    return names


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == kind}


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = _resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    # Fn::Join of text and tokens (region, function names): every token sits inside a JSON string.
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return json.loads("".join(part if isinstance(part, str) else "TOKEN" for part in parts))


def relay_metrics_named(template: dict[str, Any]) -> set[str]:
    """The `WsRelay` metric names the dashboard's widgets and the alarms read, plain or inside a SEARCH."""
    names: set[str] = set()
    for widget in dashboard_body(template)["widgets"]:
        properties = widget.get("properties", {})
        for line in [*properties.get("metrics", [])]:
            if line and line[0] == NAMESPACE:
                names.add(line[1])
            for item in line:
                if isinstance(item, dict) and "expression" in item:
                    names |= _searched(item["expression"])
    for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
        properties = alarm["Properties"]
        if properties.get("Namespace") == NAMESPACE:
            names.add(properties["MetricName"])
        for query in properties.get("Metrics", []):
            metric = query.get("MetricStat", {}).get("Metric", {})
            if metric.get("Namespace") == NAMESPACE:
                names.add(metric["MetricName"])
            names |= _searched(query.get("Expression", ""))
    return names


def _searched(expression: str) -> set[str]:
    if f"{{{NAMESPACE}," not in expression:
        return set()
    return set(re.findall(r'MetricName="(\w+)"', expression))


# --- the dashboard --------------------------------------------------------------------------------------------


def test_every_relay_metric_on_the_dashboard_and_alarms_is_emitted_by_the_code(template_json: dict[str, Any]) -> None:
    named = relay_metrics_named(template_json)
    # The graphs the issue lists are there: answers, first token, tokens, posts, endings, rejections.
    assert {"Answers", "TimeToFirstToken", "OutputTokens", "Posts", "AnswersEnded", "RejectedRequests"} <= named
    assert named - emitted_metric_names() == set()
    assert emitted_metric_names() >= RELAY_METRICS


def test_a_widget_naming_a_metric_nothing_emits_is_caught() -> None:
    config = load_config()
    app = cdk.App(context={BUNDLING_STACKS_CONTEXT: []})
    stack = RelayStack(app, config.stack_name, config=config)
    # GIVEN a graph of a metric no function publishes (a rename that forgot the dashboard)
    stale = cloudwatch.Metric(namespace=NAMESPACE, metric_name="AnswersPerSecond", dimensions_map={"service": "x"})
    stack.operations.dashboard.add_widgets(cloudwatch.GraphWidget(title="stale", left=[stale]))

    named = relay_metrics_named(Template.from_stack(stack).to_json())

    assert named - emitted_metric_names() == {"AnswersPerSecond"}
    with pytest.raises(ValueError, match="RELAY_METRICS"):
        relay_metric("AnswersPerSecond")


def test_the_dashboard_shows_the_aws_metrics_behind_the_relay(template_json: dict[str, Any]) -> None:
    lines = [
        line
        for widget in dashboard_body(template_json)["widgets"]
        for line in widget.get("properties", {}).get("metrics", [])
    ]
    plain = {(line[0], line[1]) for line in lines if isinstance(line[0], str)}
    assert {
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "ConcurrentExecutions"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
        ("AWS/DynamoDB", "SystemErrors"),
        ("AWS/ApiGateway", "ConnectCount"),
        ("AWS/ApiGateway", "MessageCount"),
        ("AWS/ApiGateway", "ClientError"),
        ("AWS/ApiGateway", "ExecutionError"),
        ("AWS/ApiGateway", "IntegrationError"),
        ("AWS/ApiGateway", "IntegrationLatency"),
    } <= plain


# --- alarms and their topic -----------------------------------------------------------------------------------


def _alarms(synthesized: Synth) -> dict[str, dict[str, Any]]:
    return {
        key.removeprefix("Operations")[:-8]: value["Properties"]
        for key, value in _resources(synthesized.json, "AWS::CloudWatch::Alarm").items()
    }


def test_alarms_notify_an_encrypted_topic(default_synth: Synth) -> None:
    alarms = _alarms(default_synth)
    assert set(alarms) == {
        "StreamingErrors",
        "StreamingThrottles",
        "AnswerErrorRate",
        "FirstTokenP95",
        "DynamoDbThrottles",
        "ConcurrencyNearLimit",
        "ApiServerErrors",
        "HttpApiServerErrors",  # the OpenAI-compatible HTTP API (`httpApi`, on by default)
    }
    (topic_id,) = _resources(default_synth.json, "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}] and alarm["OKActions"] == [{"Ref": topic_id}]
    template = default_synth.template
    (key_id,) = _resources(default_synth.json, "AWS::KMS::Key")
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    # CloudWatch may encrypt with the key, or the topic would refuse every alarm's message.
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [Match.object_like({"Principal": {"Service": "cloudwatch.amazonaws.com"}})]
                )
            },
        },
    )
    # Only over TLS (the topic policy denies aws:SecureTransport false).
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny"})])}},
    )
    template.resource_count_is("AWS::SNS::Subscription", 0)


def test_alarm_thresholds_come_from_the_context(default_synth: Synth, operations_synth: Synth) -> None:
    default, tuned = _alarms(default_synth), _alarms(operations_synth)
    assert default["AnswerErrorRate"]["Threshold"] == 5 and tuned["AnswerErrorRate"]["Threshold"] == 2.5
    assert default["FirstTokenP95"]["Threshold"] == 5000 and tuned["FirstTokenP95"]["Threshold"] == 3000
    # Without a reservation the account's concurrency (1,000 by default) is the limit; with one, the reservation.
    assert default["ConcurrencyNearLimit"]["Threshold"] == 800
    assert "Dimensions" not in default["ConcurrencyNearLimit"]
    assert tuned["ConcurrencyNearLimit"]["Threshold"] == 45
    assert tuned["ConcurrencyNearLimit"]["Dimensions"][0]["Name"] == "FunctionName"
    counts = {"StreamingErrors": (1, 3), "StreamingThrottles": (1, 4), "DynamoDbThrottles": (1, 6)}
    counts |= {"ApiServerErrors": (5, 20), "HttpApiServerErrors": (5, 20)}
    for name, (by_default, set_by_context) in counts.items():
        assert (default[name]["Threshold"], tuned[name]["Threshold"]) == (by_default, set_by_context), name


def test_alarm_email_subscribes_the_address(operations_synth: Synth) -> None:
    operations_synth.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_the_http_api_is_graphed_and_alarmed_only_when_deployed(template_json: dict[str, Any]) -> None:
    def rest_metrics(template: dict[str, Any]) -> set[str]:
        lines = [
            line
            for widget in dashboard_body(template)["widgets"]
            for line in widget.get("properties", {}).get("metrics", [])
        ]
        return {line[1] for line in lines if line[0] == "AWS/ApiGateway" and "ApiName" in line}

    assert rest_metrics(template_json) == {"Count", "4XXError", "5XXError", "Latency"}
    without = synth({"httpApi": "false"}).json
    assert rest_metrics(without) == set()
    assert not [a for a in _resources(without, "AWS::CloudWatch::Alarm") if "HttpApi" in a]


def test_alarms_false_leaves_the_dashboard_alone() -> None:
    synthesized = synth({"alarms": "false"})
    assert _resources(synthesized.json, "AWS::CloudWatch::Alarm") == {}
    assert _resources(synthesized.json, "AWS::SNS::Topic") == {}
    assert len(_resources(synthesized.json, "AWS::CloudWatch::Dashboard")) == 1


# --- cost caps and tracing ------------------------------------------------------------------------------------


def _functions(synthesized: Synth) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, value in _resources(synthesized.json, "AWS::Lambda::Function").items():
        yield key, value["Properties"]


def test_tracing_is_off_by_default_and_on_for_every_function(default_synth: Synth, operations_synth: Synth) -> None:
    for _, properties in _functions(default_synth):
        assert "TracingConfig" not in properties
        assert "RELAY_TRACING" not in properties["Environment"]["Variables"]
    traced = dict(_functions(operations_synth))
    assert len(traced) >= 6
    for key, properties in traced.items():
        assert properties["TracingConfig"] == {"Mode": "Active"}, key
        assert properties["Environment"]["Variables"]["RELAY_TRACING"] == "true", key
    operations_synth.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Sid": "XRayTraces", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]}
                        )
                    ]
                )
            }
        },
    )


def test_reserved_concurrency_caps_only_the_streaming_function(default_synth: Synth, operations_synth: Synth) -> None:
    assert not [key for key, p in _functions(default_synth) if "ReservedConcurrentExecutions" in p]
    capped = {
        key: p["ReservedConcurrentExecutions"]
        for key, p in _functions(operations_synth)
        if "ReservedConcurrentExecutions" in p
    }
    assert len(capped) == 1 and "SendText" in next(iter(capped)) and set(capped.values()) == {50}


def _table(synthesized: Synth) -> dict[str, Any]:
    (table,) = _resources(synthesized.json, "AWS::DynamoDB::Table").values()
    return table["Properties"]


def _table_key_statements(synthesized: Synth) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _resources(synthesized.json, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == "TableKey"
    ]


def test_the_table_key_is_aws_managed_created_or_given(default_synth: Synth, operations_synth: Synth) -> None:
    assert _table(default_synth)["SSESpecification"] == {"SSEEnabled": True}
    assert _table_key_statements(default_synth) == []

    created = _table(operations_synth)["SSESpecification"]
    assert created["SSEType"] == "KMS" and "Fn::GetAtt" in created["KMSMasterKeyId"]
    statements = _table_key_statements(operations_synth)
    assert statements and all(s["Resource"] == created["KMSMasterKeyId"] for s in statements)
    assert all("kms:ViaService" in s["Condition"]["StringEquals"] for s in statements)

    given = synth({"tableKmsKey": TABLE_KEY_ARN})
    assert _table(given)["SSESpecification"]["KMSMasterKeyId"] == TABLE_KEY_ARN
    assert {s["Resource"] for s in _table_key_statements(given)} == {TABLE_KEY_ARN}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alarmEmail": "not-an-address"}, "alarmEmail"),
        ({"alarmEmail": "ops@example.com", "alarms": "false"}, "alarms=true"),
        ({"sendTextReservedConcurrency": "950"}, "sendTextReservedConcurrency"),
        ({"tableKmsKey": "alias/relay"}, "tableKmsKey"),
        ({"alarmConcurrencyPercent": "0"}, "alarmConcurrencyPercent"),
        ({"alarmStreamingErrors": "0"}, "alarmStreamingErrors"),
        ({"alarmApiServerErrors": "-1"}, "alarmApiServerErrors"),
    ],
)
def test_invalid_operations_settings_name_the_key(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides)
