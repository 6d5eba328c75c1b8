"""What the streaming function may call for a model catalogue: every IAM statement its models need, exact ARNs only.

Pure Python (no CDK import) so the rules can be read and tested on their own. Resources are CloudFormation `Fn::Sub`
templates (`${AWS::Partition}`, `${AWS::Region}`, `${AWS::AccountId}` resolve at deploy time, so one template works in
any account, region and partition) or literal ARNs taken from the catalogue.

`targets(catalogue)` lists what the models call; `catalogue_grants` turns the targets into statements (`Grant`):
- `bedrock-model`, a Bedrock model id or inference profile id: `bedrock:InvokeModelWithResponseStream` (which also
  authorizes ConverseStream) on the ARNs `model_grants` derives, following the Bedrock user guide:
  - foundation model id: the model in the stack's region;
  - geographic inference profile (`us.`, `eu.`, ...): the profile, plus the model in the source region and in every
    destination region, the model grants holding only when the call comes through that profile
    (docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html);
  - global inference profile (`global.`): the profile, the model in the source region, and the region-less model ARN
    `arn:aws:bedrock:::foundation-model/{id}` that Bedrock authorizes with `aws:RequestedRegion = unspecified`
    (docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html);
- `bedrock-arn`, a Bedrock ARN configured as the model (application inference profile, custom or provisioned model):
  the same action on the ARN as configured;
- `sagemaker-endpoint`: `sagemaker:InvokeEndpointWithResponseStream` on the endpoint in the stack's region;
- `secret`: `secretsmanager:GetSecretValue` on an OpenAI-compatible model's API key secret (a partial ARN ends in
  `-??????`);
- `ssm-parameter`: `ssm:GetParameter` on its API key parameter;
- plus `kms:Decrypt` on one customer-managed key, only when one is configured (`apiKeyKmsKeyId`). Without it the
  AWS-managed keys (`aws/secretsmanager`, `aws/ssm`) decrypt for any principal of the account that may read the
  secret or parameter, so no KMS statement is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from lambdas.catalogue import BEDROCK, BEDROCK_CONVERSE, GLOBAL_GEOGRAPHY, SAGEMAKER, Catalogue, ModelSpec, geo_prefix

PARTITION: Final = "${AWS::Partition}"
REGION: Final = "${AWS::Region}"
ACCOUNT: Final = "${AWS::AccountId}"

INVOKE_ACTION: Final = "bedrock:InvokeModelWithResponseStream"
"""Also authorizes ConverseStream; the relay only streams."""
SAGEMAKER_STREAM_ACTION: Final = "sagemaker:InvokeEndpointWithResponseStream"
SECRET_ACTION: Final = "secretsmanager:GetSecretValue"
PARAMETER_ACTION: Final = "ssm:GetParameter"
DECRYPT_ACTION: Final = "kms:Decrypt"

# Destination regions per geography (`lambdas.catalogue.GEOGRAPHIES` but `global`), used when `modelRegions` is
# empty. A profile routes to a subset that depends on the model; listing the geography's superset keeps a new
# destination from failing at run time while the grant stays pinned to one model and, through
# `bedrock:InferenceProfileArn`, to calls made through the profile. Sources: the Bedrock "Supported Regions and models
# for inference profiles" page and aws-cdk's bedrock-alpha CrossRegionInferenceProfileRegion. Set `modelRegions` to
# the profile's exact list (`aws bedrock get-inference-profile`) for the tightest grant.
GEO_DESTINATION_REGIONS: Mapping[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "ca": ("ca-central-1", "ca-west-1"),
    "eu": (
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
    ),
    "apac": (
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "me-central-1",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "in": ("ap-south-1", "ap-south-2"),
}

_PROFILE_ARN = "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/%s"
_MODEL_ARN = "arn:${AWS::Partition}:bedrock:%s::foundation-model/%s"
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
_KEY_ID = re.compile(r"^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})$")

# Statement ids per target kind; Bedrock models keep the sids `model_grants` gives them.
_SIDS: Mapping[str, str] = {
    "bedrock-arn": "InvokeBedrockArns",
    "sagemaker-endpoint": "InvokeSageMakerEndpoints",
    "secret": "ReadApiKeySecrets",
    "ssm-parameter": "ReadApiKeyParameters",
}


@dataclass(frozen=True, slots=True)
class Grant:
    """One IAM statement."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    """`Fn::Sub` templates or literal ARNs."""
    conditions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """IAM condition block; values are `Fn::Sub` templates too."""


@dataclass(frozen=True, slots=True)
class Target:
    """One thing a catalogue's model calls: `action` on the resource of `kind` (see the module docstring) named `id`,
    exactly as configured."""

    action: str
    kind: str
    id: str


def targets(catalogue: Catalogue) -> list[Target]:
    """Every target the catalogue's models need, without duplicates, in catalogue order."""
    found: list[Target] = []
    for spec in catalogue.models.values():
        for target in _targets_for(spec):
            if target not in found:
                found.append(target)
    return found


def target_arns(target: Target, *, region: str, account: str, partition: str = "aws") -> list[str]:
    """The resource ARNs of a target that is not a `bedrock-model` (those follow `model_grants`).
    `region`, `account` and `partition` may be CloudFormation tokens or `${AWS::...}` placeholders."""
    if target.kind == "sagemaker-endpoint":
        # SageMaker lower-cases endpoint names in ARNs.
        return [f"arn:{partition}:sagemaker:{region}:{account}:endpoint/{target.id.lower()}"]
    if target.kind == "ssm-parameter":
        if target.id.startswith("arn:"):
            return [target.id]
        return [f"arn:{partition}:ssm:{region}:{account}:parameter/{target.id.lstrip('/')}"]
    if target.kind == "secret":
        # A complete secret ARN ends with Secrets Manager's random 6-character suffix; a partial one (the name
        # only) is matched by IAM through the `-??????` wildcard AWS documents for that case.
        return [target.id if _SECRET_SUFFIX.search(target.id) else f"{target.id}-??????"]
    if target.kind == "bedrock-arn":
        return [target.id]
    raise ValueError(f"{target.kind} targets are granted by model_grants, not by ARN here")


def model_grants(model_id: str, model_regions: Sequence[str] = ()) -> tuple[Grant, ...]:
    """The statements that let a role stream from the Bedrock model or inference profile `model_id` and nothing
    else."""
    prefix = geo_prefix(model_id)
    if prefix is None:
        if model_regions:
            raise ValueError(f"modelRegions applies to inference profile ids only; {model_id!r} is a model id")
        return (_invoke("InvokeFoundationModel", (_MODEL_ARN % (REGION, model_id),)),)

    base_model = model_id.partition(".")[2]
    profile_arn = _PROFILE_ARN % model_id
    via_profile = {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}}
    profile = _invoke("InvokeInferenceProfile", (profile_arn,))
    source_region_model = _MODEL_ARN % (REGION, base_model)

    if prefix == GLOBAL_GEOGRAPHY:
        return (
            profile,
            _invoke("InvokeModelInSourceRegionViaProfile", (source_region_model,), via_profile),
            _invoke(
                "InvokeGlobalModelViaProfile",
                (_MODEL_ARN % ("", base_model),),
                {"StringEquals": {"aws:RequestedRegion": "unspecified", **via_profile["StringEquals"]}},
            ),
        )

    regions = tuple(dict.fromkeys(model_regions or GEO_DESTINATION_REGIONS[prefix]))
    # The source region's ARN is listed as a template too: the stack is region-agnostic, so it cannot be
    # de-duplicated against `regions` here, and IAM ignores a repeated resource.
    destinations = (source_region_model, *(_MODEL_ARN % (region, base_model) for region in regions))
    return (profile, _invoke("InvokeModelViaProfile", destinations, via_profile))


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
    needed = targets(catalogue)
    grants = _bedrock_model_grants([t.id for t in needed if t.kind == "bedrock-model"], model_regions)
    for kind, sid in _SIDS.items():
        of_kind = [t for t in needed if t.kind == kind]
        if of_kind:
            resources = tuple(dict.fromkeys(arn for t in of_kind for arn in _arns(t)))
            grants.append(Grant(sid, (of_kind[0].action,), resources))
    if kms_key:
        if not any(t.kind in ("secret", "ssm-parameter") for t in needed):
            raise ValueError(
                "apiKeyKmsKeyId is set, but no model reads its API key from Secrets Manager or SSM Parameter Store"
            )
        grants.append(Grant("DecryptApiKeys", (DECRYPT_ACTION,), (kms_key_arn(kms_key),)))
    return tuple(grants)


def _invoke(sid: str, resources: tuple[str, ...], conditions: Mapping[str, Mapping[str, str]] | None = None) -> Grant:
    return Grant(sid, (INVOKE_ACTION,), resources, conditions or {})


def _targets_for(spec: ModelSpec) -> list[Target]:
    if spec.provider in (BEDROCK, BEDROCK_CONVERSE):
        model_id = spec.model_id or ""
        return [Target(INVOKE_ACTION, "bedrock-arn" if model_id.startswith("arn:") else "bedrock-model", model_id)]
    if spec.provider == SAGEMAKER:
        return [Target(SAGEMAKER_STREAM_ACTION, "sagemaker-endpoint", spec.endpoint_name or "")]
    if spec.api_key_secret_arn:
        return [Target(SECRET_ACTION, "secret", spec.api_key_secret_arn)]
    if spec.api_key_parameter:
        return [Target(PARAMETER_ACTION, "ssm-parameter", spec.api_key_parameter)]
    return []


def _arns(target: Target) -> list[str]:
    return target_arns(target, region=REGION, account=ACCOUNT, partition=PARTITION)


def _bedrock_model_grants(model_ids: Sequence[str], model_regions: Sequence[str]) -> list[Grant]:
    if model_regions:
        geographies = sorted({p for p in map(geo_prefix, model_ids) if p and p != GLOBAL_GEOGRAPHY})
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
        # statements are exactly what `modelId` alone produces), later ones are numbered.
        suffix = "" if index == 1 else str(index)
        regions = model_regions if geo_prefix(model_id) else ()
        for grant in model_grants(model_id, regions):
            grants.append(Grant(grant.sid + suffix, grant.actions, grant.resources, grant.conditions))
    return grants
