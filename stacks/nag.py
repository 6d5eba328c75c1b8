"""cdk-nag's AwsSolutions pack. cdk-nag 3 is a CDK policy-validation plugin (no longer an Aspect): registered on the
app, it runs when the app synthesizes, and any unacknowledged finding stops `cdk synth`/`cdk deploy` with a report
(also written to `cdk.out/validation-report.json`).

Acknowledgments live next to the resource they excuse, each with its reason (`acknowledge`).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stage, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"


def enable_aws_solutions_checks(app: Stage) -> None:
    """Plugins can only be registered on an App or Stage, which is why stacks cannot turn this on themselves."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one finding (`AwsSolutions-XYZ` or `AwsSolutions-XYZ[finding]`) on `scope` and everything below it."""
    # The `AwsSolutions::` prefix routes the acknowledgment to the cdk-nag plugin (the form its report asks for).
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{rule_id}", reason=reason))
