"""Which Bedrock resources the streaming function may invoke: exact ARNs for the one configured model.

Pure Python (no CDK import) so the rules can be read and tested on their own. ARNs are CloudFormation `Fn::Sub`
templates: `${AWS::Partition}`, `${AWS::Region}` and `${AWS::AccountId}` resolve at deploy time, so one template
works in any account, region and partition.

The shapes follow the Bedrock user guide:
- foundation model id: the model in the stack's region;
- geographic inference profile (`us.`, `eu.`, ...): the profile, plus the model in the source region and in every
  destination region, the model grants holding only when the call comes through that profile
  (docs.aws.amazon.com/bedrock/latest/userguide/geographic-cross-region-inference.html);
- global inference profile (`global.`): the profile, the model in the source region, and the region-less model ARN
  `arn:aws:bedrock:::foundation-model/{id}` that Bedrock authorizes with `aws:RequestedRegion = unspecified`
  (docs.aws.amazon.com/bedrock/latest/userguide/global-cross-region-inference.html).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

INVOKE_ACTIONS: tuple[str, ...] = ("bedrock:InvokeModelWithResponseStream",)
"""InvokeModelWithResponseStream also authorizes ConverseStream; the relay only streams."""

GLOBAL_PREFIX = "global"

# Destination regions per geography prefix, used when `modelRegions` is empty. A profile routes to a subset that
# depends on the model; listing the geography's superset keeps a new destination from failing at run time while the
# grant stays pinned to one model and, through `bedrock:InferenceProfileArn`, to calls made through the profile.
# Sources: the Bedrock "Supported Regions and models for inference profiles" page and aws-cdk's bedrock-alpha
# CrossRegionInferenceProfileRegion. Set `modelRegions` to the profile's exact list (`aws bedrock
# get-inference-profile`) for the tightest grant.
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


@dataclass(frozen=True, slots=True)
class ModelGrant:
    """One IAM statement's worth of Bedrock access."""

    sid: str
    resources: tuple[str, ...]
    """`Fn::Sub` templates of exact ARNs."""
    conditions: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """IAM condition block; values are `Fn::Sub` templates too."""


def profile_prefix(model_id: str) -> str | None:
    """The geography prefix (`us`, `eu`, `global`, ...) when `model_id` names a cross-region inference profile."""
    prefix, dot, _ = model_id.partition(".")
    if dot and (prefix == GLOBAL_PREFIX or prefix in GEO_DESTINATION_REGIONS):
        return prefix
    return None


def model_grants(model_id: str, model_regions: Sequence[str] = ()) -> tuple[ModelGrant, ...]:
    """The statements that let a role stream from `model_id` and nothing else."""
    prefix = profile_prefix(model_id)
    if prefix is None:
        if model_regions:
            raise ValueError(f"modelRegions applies to inference profile ids only; {model_id!r} is a model id")
        return (ModelGrant("InvokeFoundationModel", (_MODEL_ARN % ("${AWS::Region}", model_id),)),)

    base_model = model_id.partition(".")[2]
    profile_arn = _PROFILE_ARN % model_id
    via_profile = {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}}
    profile = ModelGrant("InvokeInferenceProfile", (profile_arn,))
    source_region_model = _MODEL_ARN % ("${AWS::Region}", base_model)

    if prefix == GLOBAL_PREFIX:
        return (
            profile,
            ModelGrant("InvokeModelInSourceRegionViaProfile", (source_region_model,), via_profile),
            ModelGrant(
                "InvokeGlobalModelViaProfile",
                (_MODEL_ARN % ("", base_model),),
                {"StringEquals": {"aws:RequestedRegion": "unspecified", **via_profile["StringEquals"]}},
            ),
        )

    regions = tuple(dict.fromkeys(model_regions or GEO_DESTINATION_REGIONS[prefix]))
    # The source region's ARN is listed as a template too: the stack is region-agnostic, so it cannot be
    # de-duplicated against `regions` here, and IAM ignores a repeated resource.
    destinations = (source_region_model, *(_MODEL_ARN % (region, base_model) for region in regions))
    return (profile, ModelGrant("InvokeModelViaProfile", destinations, via_profile))
