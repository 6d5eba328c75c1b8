"""The grant rules on their own (no synth): what a catalogue's models call (`targets`), the ARNs each Bedrock id shape
gets, and that a one-model catalogue is exactly `modelId`'s grant, with KMS keys named exactly."""

from __future__ import annotations

import re

import pytest

from lambdas.catalogue import GEOGRAPHIES, GLOBAL_GEOGRAPHY, parse_catalogue, single_model_catalogue
from stacks.model_grants import (
    DECRYPT_ACTION,
    GEO_DESTINATION_REGIONS,
    INVOKE_ACTION,
    Target,
    catalogue_grants,
    kms_key_arn,
    model_grants,
    target_arns,
    targets,
)
from tests.stack.conftest import CATALOGUE, FOUNDATION_MODEL_ID, GLOBAL_PROFILE_ID
from tests.unit.lambdas.test_catalogue import EXAMPLE, SECRET

# --- Bedrock model ids and inference profiles -------------------------------------------------------------------


def test_every_geography_but_global_has_destination_regions() -> None:
    assert set(GEO_DESTINATION_REGIONS) == set(GEOGRAPHIES) - {GLOBAL_GEOGRAPHY}


def test_every_geography_lists_concrete_regions() -> None:
    for prefix, regions in GEO_DESTINATION_REGIONS.items():
        assert regions, prefix
        assert not [r for r in regions if "*" in r or not r[0].isalpha()], prefix
        assert len(set(regions)) == len(regions), prefix


def test_us_gov_profile_routes_to_govcloud_regions_only() -> None:
    _, models = model_grants("us-gov.anthropic.claude-3-haiku-20240307-v1:0")
    regions = [re.search(r":bedrock:([^:]*)::foundation-model/", arn)[1] for arn in models.resources[1:]]
    assert regions == ["us-gov-east-1", "us-gov-west-1"]
    assert all(arn.startswith("arn:${AWS::Partition}:") for arn in models.resources)


def test_duplicate_model_regions_are_granted_once() -> None:
    _, models = model_grants("eu.amazon.nova-lite-v1:0", ("eu-west-1", "eu-west-1", "eu-central-1"))
    assert len(models.resources) == 3


def test_model_regions_with_a_model_id_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="inference profile ids only"):
        model_grants("anthropic.claude-3-haiku-20240307-v1:0", ("us-east-1",))


# --- what a catalogue's models call -----------------------------------------------------------------------------


def test_iam_targets_follow_the_catalogue() -> None:
    assert targets(parse_catalogue(EXAMPLE)) == [
        Target("bedrock:InvokeModelWithResponseStream", "bedrock-model", "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
        Target("bedrock:InvokeModelWithResponseStream", "bedrock-model", "meta.llama3-8b-instruct-v1:0"),
        Target("bedrock:InvokeModelWithResponseStream", "bedrock-model", "us.amazon.nova-lite-v1:0"),
        Target("sagemaker:InvokeEndpointWithResponseStream", "sagemaker-endpoint", "Llama3-8B-Endpoint"),
        Target("secretsmanager:GetSecretValue", "secret", SECRET),
    ]


def test_iam_targets_are_not_repeated_and_arns_are_kept() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    catalogue = parse_catalogue(
        {
            "default": "a",
            "models": {
                "a": {"provider": "bedrock-converse", "modelId": arn},
                "b": {"provider": "bedrock-converse", "modelId": arn},
                "c": {"provider": "openai", "baseUrl": "http://x", "model": "m", "apiKeyParameter": "/relay/key"},
                "d": {"provider": "openai", "baseUrl": "http://y", "model": "m"},
            },
        }
    )
    assert targets(catalogue) == [
        Target("bedrock:InvokeModelWithResponseStream", "bedrock-arn", arn),
        Target("ssm:GetParameter", "ssm-parameter", "/relay/key"),
    ]


@pytest.mark.parametrize(
    ("target", "arns"),
    [
        (
            Target("a", "sagemaker-endpoint", "Llama3-8B"),
            ["arn:aws:sagemaker:eu-west-1:123456789012:endpoint/llama3-8b"],
        ),
        (Target("a", "ssm-parameter", "/relay/key"), ["arn:aws:ssm:eu-west-1:123456789012:parameter/relay/key"]),
        (
            Target("a", "ssm-parameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/k"),
            ["arn:aws:ssm:eu-west-1:123456789012:parameter/k"],
        ),
        (Target("a", "secret", SECRET), [SECRET]),
        (
            Target("a", "secret", "arn:aws:secretsmanager:us-east-1:123456789012:secret:relay/openai"),
            ["arn:aws:secretsmanager:us-east-1:123456789012:secret:relay/openai-??????"],
        ),
        (
            Target("a", "bedrock-arn", "arn:aws:bedrock:eu-west-1:1:custom-model/x"),
            ["arn:aws:bedrock:eu-west-1:1:custom-model/x"],
        ),
    ],
)
def test_target_arns(target: Target, arns: list[str]) -> None:
    assert target_arns(target, region="eu-west-1", account="123456789012") == arns


def test_bedrock_model_targets_are_left_to_the_stacks_bedrock_rules() -> None:
    with pytest.raises(ValueError, match="model_grants"):
        target_arns(Target("a", "bedrock-model", "us.m"), region="r", account="1")


def test_every_bedrock_model_target_is_grantable_by_the_stack() -> None:
    for target in targets(parse_catalogue(EXAMPLE)):
        if target.kind == "bedrock-model":
            assert model_grants(target.id), target


# --- a catalogue's statements -----------------------------------------------------------------------------------

DEFAULT_PROFILE = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.mark.parametrize(
    ("model_id", "regions"),
    [
        (DEFAULT_PROFILE, ()),
        (DEFAULT_PROFILE, ("us-east-1", "us-west-2")),
        (FOUNDATION_MODEL_ID, ()),
        (GLOBAL_PROFILE_ID, ()),
    ],
    ids=["geo-profile", "geo-profile-regions", "foundation-model", "global-profile"],
)
def test_a_single_model_catalogue_grants_what_model_id_always_did(model_id: str, regions: tuple[str, ...]) -> None:
    grants = catalogue_grants(single_model_catalogue(model_id), regions)
    assert [(g.sid, g.resources, dict(g.conditions)) for g in grants] == [
        (g.sid, g.resources, dict(g.conditions)) for g in model_grants(model_id, regions)
    ]
    assert {g.actions for g in grants} == {(INVOKE_ACTION,)}


def test_statement_ids_stay_unique_across_models() -> None:
    sids = [grant.sid for grant in catalogue_grants(parse_catalogue(CATALOGUE))]
    assert len(sids) == len(set(sids))
    assert sids[:2] == ["InvokeInferenceProfile", "InvokeModelViaProfile"]


def test_model_regions_apply_to_profiles_only() -> None:
    catalogue = parse_catalogue(
        {
            "default": "a",
            "models": {
                "a": {"provider": "bedrock", "modelId": DEFAULT_PROFILE},
                "b": {"provider": "bedrock", "modelId": FOUNDATION_MODEL_ID},
            },
        }
    )
    profile, via_profile, foundation = catalogue_grants(catalogue, ("us-west-2",))
    assert len(via_profile.resources) == 2  # the source region and us-west-2
    assert foundation.resources == (
        f"arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/{FOUNDATION_MODEL_ID}",
    )
    assert profile.sid == "InvokeInferenceProfile"


@pytest.mark.parametrize(
    ("key", "arn"),
    [
        (
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        (
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        ),
        (
            "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
    ],
    ids=["key-id", "multi-region-key-id", "key-arn"],
)
def test_kms_keys_are_named_by_exact_arn(key: str, arn: str) -> None:
    assert kms_key_arn(key) == arn


@pytest.mark.parametrize(
    "key",
    ["alias/relay", "arn:aws:kms:us-east-1:123456789012:alias/relay", "*", "arn:aws:kms:us-east-1:123456789012:key/*"],
)
def test_kms_aliases_and_patterns_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="apiKeyKmsKeyId"):
        kms_key_arn(key)


def test_the_kms_grant_is_decrypt_on_the_one_key() -> None:
    *_, decrypt = catalogue_grants(parse_catalogue(CATALOGUE), (), "1234abcd-12ab-34cd-56ef-1234567890ab")
    assert (decrypt.sid, decrypt.actions, len(decrypt.resources)) == ("DecryptApiKeys", (DECRYPT_ACTION,), 1)
