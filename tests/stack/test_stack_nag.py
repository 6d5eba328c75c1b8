"""cdk-nag's AwsSolutions pack, run the way `cdk synth` runs it: no finding is left unacknowledged, a real finding
does stop the synth, and every acknowledgment names its finding and gives a reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from lambdas.routes import AUTHORIZER, ROUTES
from stacks.config import load_config
from stacks.constructs.bundling import BUNDLING_STACKS_CONTEXT
from stacks.nag import PACK, enable_aws_solutions_checks
from stacks.relay_stack import RelayStack
from tests.stack.conftest import (
    CATALOGUE_OVERRIDES,
    EXTRA_ROUTE,
    GLOBAL_PROFILE_ID,
    OIDC_OVERRIDES,
    OPERATIONS_OVERRIDES,
    OVERRIDES,
    TABLE_KEY_ARN,
    TEST_AUTHORIZER,
    Synth,
)


def _nag_findings(
    outdir: Path,
    overrides: Mapping[str, Any] | None = None,
    *,
    extended: bool = False,
    tamper: Callable[[RelayStack], None] | None = None,
) -> list[str]:
    """Synthesize an app with the pack enabled (as app.py does) and return the rule ids the synth failed on."""
    config = load_config(overrides)
    app = cdk.App(context={BUNDLING_STACKS_CONTEXT: []}, outdir=str(outdir))
    stack = RelayStack(
        app,
        config.stack_name,
        config=config,
        routes=(*ROUTES, EXTRA_ROUTE) if extended else ROUTES,
        authorizer=TEST_AUTHORIZER if extended else AUTHORIZER,
    )
    if tamper:
        tamper(stack)
    enable_aws_solutions_checks(app)
    try:
        app.synth()
    except RuntimeError as exc:  # jsii re-raises the CDK's ValidationFailed error as a RuntimeError
        assert "ValidationFailed" in str(exc)
    else:
        return []
    report = json.loads((outdir / "validation-report.json").read_text())
    return [v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]]


@pytest.mark.parametrize(
    ("overrides", "extended"),
    [
        (None, False),
        (OVERRIDES, False),
        ({"modelId": GLOBAL_PROFILE_ID}, False),
        (None, True),
        (OIDC_OVERRIDES, False),
        (CATALOGUE_OVERRIDES, False),
        (OPERATIONS_OVERRIDES, False),
        ({"alarms": "false", "tableKmsKey": TABLE_KEY_ARN}, False),
    ],
    ids=[
        "default",
        "overridden",
        "global-profile",
        "authorizer-and-extra-route",
        "oidc",
        "catalogue",
        "operations",
        "no-alarms-own-key",
    ],
)
def test_synth_passes_the_aws_solutions_pack(
    tmp_path: Path, overrides: Mapping[str, Any] | None, extended: bool
) -> None:
    assert _nag_findings(tmp_path, overrides, extended=extended) == []


def test_the_check_is_live_a_wildcard_grant_stops_the_synth(tmp_path: Path) -> None:
    def add_wildcard_grant(stack: RelayStack) -> None:
        probe = iam.Role(stack, "Probe", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        probe.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))

    assert _nag_findings(tmp_path, tamper=add_wildcard_grant) == ["AwsSolutions-IAM5[Resource::*]"]


def _acknowledgments(synth: Synth) -> dict[str, dict[str, str]]:
    """Construct path → {acknowledged rule id: reason}."""
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found: dict[str, dict[str, str]] = {}
    for construct in synth.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key:
                found.setdefault(construct.node.path, {}).update(entry.data)
    return found


def _rules(synth: Synth) -> set[str]:
    return {rule.split("[")[0] for by_rule in _acknowledgments(synth).values() for rule in by_rule}


def test_every_acknowledgment_names_one_finding_and_explains_it(default_synth: Synth) -> None:
    acknowledged = _acknowledgments(default_synth)
    rules = {rule for by_rule in acknowledged.values() for rule in by_rule}
    assert {rule.split("[")[0] for rule in rules} == {
        f"{PACK}::AwsSolutions-S1",  # the attachments bucket's access log (stacks/constructs/attachments.py)
        f"{PACK}::AwsSolutions-L1",
        f"{PACK}::AwsSolutions-APIG4",
        f"{PACK}::AwsSolutions-IAM4",
        f"{PACK}::AwsSolutions-IAM5",
        f"{PACK}::AwsSolutions-COG2",
        f"{PACK}::AwsSolutions-COG4",  # the HTTP API's JWT authorizer (stacks/constructs/openai_http.py)
        f"{PACK}::AwsSolutions-APIG3",
        f"{PACK}::AwsSolutions-COG8",
    }
    # Wildcard rules are granular: only the exact finding is accepted, never the whole rule.
    assert not [rule for rule in rules if rule.endswith(("IAM4", "IAM5"))]
    for by_rule in acknowledged.values():
        for rule, reason in by_rule.items():
            assert len(reason) > 60, rule


def test_the_user_pool_acknowledgments_follow_the_switches(overridden_synth: Synth, oidc_synth: Synth) -> None:
    # Threat protection on: the pool is on the Plus tier and COG8 holds without an acknowledgment.
    assert f"{PACK}::AwsSolutions-COG8" not in _rules(overridden_synth)
    assert f"{PACK}::AwsSolutions-COG2" in _rules(overridden_synth)
    # No pool at all: nothing Cognito to acknowledge.
    # (COG4 is the HTTP API's: its methods use the relay's JWT authorizer, not a Cognito user pool authorizer.)
    assert not [rule for rule in _rules(oidc_synth) if "COG" in rule and not rule.endswith("COG4")]


@pytest.mark.parametrize("variant", ["default_synth", "oidc_synth", "extended_synth"])
def test_connect_needs_no_authorization_acknowledgment(variant: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(variant)
    by_path = _acknowledgments(synth)
    routes = [path for path in by_path if path.endswith("-Route")]
    assert not [path for path in routes if "$connect" in path]
    # Every other route still explains why it has no authorizer of its own.
    assert all(f"{PACK}::AwsSolutions-APIG4" in by_path[path] for path in routes)
    assert len(routes) == len(synth.stack.functions) - 1
