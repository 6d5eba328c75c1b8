"""What the streaming function may call for a model catalogue: one IAM statement per kind of target, exact ARNs.

Pure Python (no CDK import), like `bedrock_access`, so the rules can be read and tested on their own. Resources are
CloudFormation `Fn::Sub` templates (`${AWS::Partition}`, `${AWS::Region}`, `${AWS::AccountId}`) or literal ARNs
taken from the catalogue.

From `lambdas.models.iam_targets(catalogue)`:
- `bedrock-model`: `bedrock_access.model_grants` (foundation model / geographic profile / global profile rules);
- `bedrock-arn`: `bedrock:InvokeModelWithResponseStream` on the ARN as configured;
- `sagemaker-endpoint`: `sagemaker:InvokeEndpointWithResponseStream` on the endpoint in the stack's region;
- `secret`: `secretsmanager:GetSecretValue` on the secret (a partial ARN ends in `-??????`, see `target_arns`);
- `ssm-parameter`: `ssm:GetParameter` on the parameter;
- plus `kms:Decrypt` on one customer-managed key, only when one is configured (`apiKeyKmsKeyId`). Without it the
  AWS-managed keys (`aws/secretsmanager`, `aws/ssm`) decrypt for any principal of the account that may read the
  secret or parameter, so no KMS statement is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lambdas.models import Catalogue, IamTarget, iam_targets, target_arns
from stacks.bedrock_access import GLOBAL_PREFIX, INVOKE_ACTIONS, model_grants, profile_prefix

PARTITION = "${AWS::Partition}"
REGION = "${AWS::Region}"
ACCOUNT = "${AWS::AccountId}"

DECRYPT_ACTION = "kms:Decrypt"

# Statement ids per target kind; Bedrock models keep the sids `bedrock_access` gives them.
_SIDS: Mapping[str, str] = {
    "bedrock-arn": "InvokeBedrockArns",
    "sagemaker-endpoint": "InvokeSageMakerEndpoints",
    "secret": "ReadApiKeySecrets",
    "ssm-parameter": "ReadApiKeyParameters",
}
_KEY_ID = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})$")


@dataclass(frozen=True, slots=True)
class Grant:
    """One IAM statement."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    """`Fn::Sub` templates or literal ARNs."""
    conditions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def kms_key_arn(key: str) -> str:
    """The ARN of a KMS key given by id (in the stack's account and region) or by ARN. Aliases are refused: IAM
    matches `kms:Decrypt` against the key ARN, never against an alias."""
    if _KEY_ARN.match(key):
        return key
    if _KEY_ID.match(key):
        return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{key}"
    raise ValueError(f"apiKeyKmsKeyId {key!r}: a KMS key id or key ARN (an alias cannot be granted in IAM)")


def catalogue_grants(catalogue: Catalogue, model_regions: Sequence[str] = (), kms_key: str = "") -> tuple[Grant, ...]:
    """Every statement the catalogue's models need, in a stable order; raise ValueError for a catalogue that would
    need a broader or ambiguous grant."""
    targets = iam_targets(catalogue)
    grants = list(_bedrock_model_grants([t.id for t in targets if t.kind == "bedrock-model"], model_regions))
    for kind, sid in _SIDS.items():
        of_kind = [t for t in targets if t.kind == kind]
        if of_kind:
            resources = tuple(dict.fromkeys(arn for t in of_kind for arn in _arns(t)))
            grants.append(Grant(sid, (of_kind[0].action,), resources))
    if kms_key:
        if not any(t.kind in ("secret", "ssm-parameter") for t in targets):
            raise ValueError(
                "apiKeyKmsKeyId is set, but no model reads its API key from Secrets Manager or SSM Parameter Store"
            )
        grants.append(Grant("DecryptApiKeys", (DECRYPT_ACTION,), (kms_key_arn(kms_key),)))
    return tuple(grants)


def _arns(target: IamTarget) -> list[str]:
    return target_arns(target, region=REGION, account=ACCOUNT, partition=PARTITION)


def _bedrock_model_grants(model_ids: Sequence[str], model_regions: Sequence[str]) -> list[Grant]:
    if model_regions:
        geographies = sorted({p for p in map(profile_prefix, model_ids) if p and p != GLOBAL_PREFIX})
        if not geographies and model_ids:
            # No geographic profile to route: the same error as a lone foundation-model `modelId`.
            model_grants(model_ids[0], model_regions)
        if len(geographies) > 1:
            raise ValueError(
                f"modelRegions is one list for every inference profile, but the models use profiles of several "
                f"geographies ({', '.join(geographies)}); leave modelRegions empty"
            )
    grants: list[Grant] = []
    for index, model_id in enumerate(model_ids, start=1):
        # Sids must be unique within the policy: the first model keeps the plain ones (a one-model catalogue's
        # statements are exactly what `modelId` alone produced), later ones are numbered.
        suffix = "" if index == 1 else str(index)
        regions = model_regions if profile_prefix(model_id) else ()
        for grant in model_grants(model_id, regions):
            grants.append(Grant(grant.sid + suffix, INVOKE_ACTIONS, grant.resources, grant.conditions))
    return grants
