"""Log groups created explicitly, so retention and removal are ours (and no `logRetention` custom resource)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

_R = logs.RetentionDays
# The day counts CloudWatch Logs accepts (config validates against stacks.config.LOG_RETENTION_DAYS).
_RETENTION: dict[int, logs.RetentionDays] = {
    1: _R.ONE_DAY,
    3: _R.THREE_DAYS,
    5: _R.FIVE_DAYS,
    7: _R.ONE_WEEK,
    14: _R.TWO_WEEKS,
    30: _R.ONE_MONTH,
    60: _R.TWO_MONTHS,
    90: _R.THREE_MONTHS,
    120: _R.FOUR_MONTHS,
    150: _R.FIVE_MONTHS,
    180: _R.SIX_MONTHS,
    365: _R.ONE_YEAR,
    400: _R.THIRTEEN_MONTHS,
    545: _R.EIGHTEEN_MONTHS,
    731: _R.TWO_YEARS,
    1096: _R.THREE_YEARS,
    1827: _R.FIVE_YEARS,
    2192: _R.SIX_YEARS,
    2557: _R.SEVEN_YEARS,
    2922: _R.EIGHT_YEARS,
    3288: _R.NINE_YEARS,
    3653: _R.TEN_YEARS,
}


def log_group(scope: Construct, construct_id: str, *, days: int, removal_policy: RemovalPolicy) -> logs.LogGroup:
    return logs.LogGroup(scope, construct_id, retention=_RETENTION[days], removal_policy=removal_policy)
