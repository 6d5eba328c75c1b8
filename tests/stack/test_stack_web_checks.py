"""The web client's hosting passes the stack's gates: least-privilege IAM (the strict no-wildcard walker, with exactly
one allowed pattern), cdk-nag with every acknowledgment explained, and cfn-lint."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cfnlint.api import lint_file

from stacks.constructs.web_client import (
    BUCKET_ACTIONS,
    INVALIDATION_ACTIONS,
    OBJECT_ACTIONS,
    SOURCE_ACTIONS,
)
from stacks.nag import PACK
from tests.stack.template_queries import (
    actions,
    all_policy_statements,
    as_list,
    render,
    role_statements,
    wildcard_problems,
)
from tests.stack.template_queries import resources as all_resources
from tests.stack.test_stack_web import WEB_VARIANTS, WebSynth, web_synth


def resources(template: Mapping[str, Any], resource_type: str) -> dict[str, Mapping[str, Any]]:
    """The web client's resources of a type: the attachments bucket (issue 15) belongs to another construct."""
    return {k: v for k, v in all_resources(template, resource_type).items() if not k.startswith("Attachments")}


HANDLER_CODE_KEY = "35328da138f26fbd9160297abc9a2522d93dbf75878cd5114a9c050419fc1ce0.zip"
"""The asset key of aws-cdk-lib 2.275.0's bucket-deployment-handler: when an upgrade changes the handler, this test
fails until someone re-reads its index.py against stacks/constructs/web_client.py's action lists and updates it."""

# The only wildcard the web client adds, held to one shape and to the deployment role's policy.
WEB_ALLOWED_WILDCARDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^\$\{WebClientBucket[0-9A-F]{8}\.Arn\}/\*$"),
        "BucketDeployment's `aws s3 sync --delete` writes each file of web/ and deletes files no longer in it: keys "
        "known only at deploy time, in the one bucket that holds nothing but the web client",
    ),
)


@pytest.fixture(params=list(WEB_VARIANTS))
def any_web(request: pytest.FixtureRequest) -> WebSynth:
    return web_synth(request.param)


@pytest.fixture
def cognito_web() -> WebSynth:
    return web_synth("cognito")


def _deployment_role(template: Mapping[str, Any]) -> str:
    (function,) = [
        props
        for props in (r["Properties"] for r in resources(template, "AWS::Lambda::Function").values())
        if props["Handler"] == "index.handler" and props.get("Layers")
    ]
    return function["Role"]["Fn::GetAtt"][0]


def _web_problems(template: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """(problems the walker reports that no allowed pattern excuses, wildcards the allow-list excused)."""
    deployment_policies = {
        logical_id
        for logical_id, resource in resources(template, "AWS::IAM::Policy").items()
        if {"Ref": _deployment_role(template)} in resource["Properties"]["Roles"]
    }
    problems: set[str] = set()
    excused: set[str] = set()
    for logical_id, statement in all_policy_statements(template):
        for problem in wildcard_problems(statement):
            resource = problem.removeprefix("resource ")
            if logical_id in deployment_policies and any(p.match(resource) for p, _ in WEB_ALLOWED_WILDCARDS):
                excused.add(resource)
            else:
                problems.add(f"{logical_id}: {problem}")
    return problems, excused


# --- IAM ----------------------------------------------------------------------------------------------------------


def test_no_policy_statement_grants_a_wildcard_beyond_the_one_allowed(any_web: WebSynth) -> None:
    problems, excused = _web_problems(any_web.json)
    assert problems == set()
    # The allowed pattern is in use (no stale entry), and it is the bucket's objects, nothing else.
    (bucket_id,) = resources(any_web.json, "AWS::S3::Bucket")
    assert excused == {f"${{{bucket_id}.Arn}}/*"}


def test_the_allowed_wildcard_has_a_reason_and_matches_only_its_shape() -> None:
    assert all(len(reason) > 60 for _, reason in WEB_ALLOWED_WILDCARDS)
    ((pattern, _),) = WEB_ALLOWED_WILDCARDS
    assert pattern.match("${WebClientBucket69960D88.Arn}/*")
    for resource in (
        "${WebClientBucket69960D88.Arn}/*/*",
        "${WebClientBucket69960D88.Arn}*",
        "${OtherBucket69960D88.Arn}/*",
        "arn:${AWS::Partition}:s3:::cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}/*",
        "*",
    ):
        assert not pattern.match(resource), resource


def test_the_deployment_role_has_exactly_its_handlers_grants(any_web: WebSynth) -> None:
    template = any_web.json
    role_id = _deployment_role(template)
    (bucket_id,) = resources(template, "AWS::S3::Bucket")
    (distribution_id,) = resources(template, "AWS::CloudFront::Distribution")
    (deployment,) = resources(template, "Custom::CDKBucketDeployment").values()
    function_logs = [
        props["LoggingConfig"]["LogGroup"]["Ref"]
        for props in (r["Properties"] for r in resources(template, "AWS::Lambda::Function").values())
        if props["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}
    ]
    assets = "arn:${AWS::Partition}:s3:::cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"
    statements = {
        statement.get("Sid", "Logs"): (actions(statement), [render(r) for r in as_list(statement["Resource"])])
        for statement in role_statements(template, role_id)
    }
    assert statements == {
        # Its own log group, nothing else of CloudWatch Logs (no AWSLambdaBasicExecutionRole).
        "Logs": (["logs:CreateLogStream", "logs:PutLogEvents"], [f"${{{function_logs[0]}.Arn}}"]),
        # The two zips it copies, by key: never the rest of the CDK asset bucket.
        "ReadSourceZips": (
            list(SOURCE_ACTIONS),
            [f"{assets}/{key}" for key in deployment["Properties"]["SourceObjectKeys"]],
        ),
        "ListSite": (list(BUCKET_ACTIONS), [f"${{{bucket_id}.Arn}}"]),
        "WriteSite": (list(OBJECT_ACTIONS), [f"${{{bucket_id}.Arn}}/*"]),
        # This distribution only (the CDK's own grant is `Resource: *`).
        "InvalidateSite": (
            list(INVALIDATION_ACTIONS),
            [f"arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{distribution_id}}}"],
        ),
    }
    assert "s3:GetBucketTagging" not in BUCKET_ACTIONS  # see BUCKET_ACTIONS: it would stop a `destroy` stack's clean-up
    role = template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    assert resources(template, "AWS::IAM::ManagedPolicy") == {}


def test_the_bucket_policy_grants_the_deployment_nothing(any_web: WebSynth) -> None:
    # The construct's own grants went to an immutable view of the role: not into the role, not into the bucket.
    (policy,) = resources(any_web.json, "AWS::S3::BucketPolicy").values()
    principals = [s["Principal"] for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert principals == [{"Service": "cloudfront.amazonaws.com"}]


def test_the_deployment_runs_only_once_its_grants_exist(any_web: WebSynth) -> None:
    role_id = _deployment_role(any_web.json)
    (policy_id,) = [
        logical_id
        for logical_id, resource in resources(any_web.json, "AWS::IAM::Policy").items()
        if {"Ref": role_id} in resource["Properties"]["Roles"]
    ]
    (deployment,) = resources(any_web.json, "Custom::CDKBucketDeployment").values()
    assert policy_id in deployment["DependsOn"]


def test_the_deployment_handler_is_the_one_its_grants_were_written_for(any_web: WebSynth) -> None:
    (function,) = [
        r["Properties"]
        for r in resources(any_web.json, "AWS::Lambda::Function").values()
        if r["Properties"]["Handler"] == "index.handler" and r["Properties"].get("Layers")
    ]
    assert function["Code"]["S3Key"] == HANDLER_CODE_KEY, (
        "aws-cdk-lib's BucketDeployment handler changed: re-read custom-resource-handlers/dist/aws-s3-deployment/"
        "bucket-deployment-handler/index.py, check SOURCE_ACTIONS, BUCKET_ACTIONS, OBJECT_ACTIONS and "
        "INVALIDATION_ACTIONS (and the jsonData quoting) in stacks/constructs/web_client.py, then update the key"
    )


# --- cdk-nag ------------------------------------------------------------------------------------------------------


def _acknowledged(synth: WebSynth) -> dict[str, dict[str, str]]:
    """Construct path under the web client or the deployment handler → {acknowledged rule id: reason}."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found: dict[str, dict[str, str]] = {}
    for construct in synth.stack.node.find_all():
        path = construct.node.path
        if "/WebClient/" not in path and "CDKBucketDeployment" not in path:
            continue
        for entry in construct.node.metadata:
            if entry.type == key:
                found.setdefault(path, {}).update(entry.data)
    return found


def test_the_synth_passes_the_aws_solutions_pack(any_web: WebSynth) -> None:
    assert any_web.findings == []


def test_every_web_acknowledgment_names_its_finding_and_explains_it(any_web: WebSynth) -> None:
    acknowledged = _acknowledged(any_web)
    rules = {rule.removeprefix(f"{PACK}::") for by_rule in acknowledged.values() for rule in by_rule}
    (bucket_id,) = resources(any_web.json, "AWS::S3::Bucket")
    expected = {
        "AwsSolutions-S1",
        "AwsSolutions-CFR1",
        "AwsSolutions-CFR2",
        "AwsSolutions-CFR3",
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
        "AwsSolutions-L1",
    }
    custom_domain = bool(any_web.config.web_client_domain_name)
    # TLS below 1.2 is acknowledged only where it is true: on the cloudfront.net name's default certificate.
    assert rules == (expected if custom_domain else expected | {"AwsSolutions-CFR4"})
    for by_rule in acknowledged.values():
        for rule, reason in by_rule.items():
            assert len(reason) > 60, rule


def test_the_runtime_acknowledgment_is_on_the_deployment_handler_alone(cognito_web: WebSynth) -> None:
    l1 = [path for path, by_rule in _acknowledged(cognito_web).items() if f"{PACK}::AwsSolutions-L1" in by_rule]
    assert len(l1) == 1 and "/Custom::CDKBucketDeployment" in l1[0]


# --- cfn-lint -----------------------------------------------------------------------------------------------------


def test_template_has_no_cfn_lint_errors(any_web: WebSynth, tmp_path: Path) -> None:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(any_web.json, indent=1))
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in lint_file(path) if m.rule.id.startswith("E")]
    assert errors == []
