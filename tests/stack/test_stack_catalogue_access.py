"""The catalogue grant rules on their own (no synth): a one-model catalogue is exactly `modelId`'s old grant, and
KMS keys are named exactly."""

from __future__ import annotations

import pytest

from lambdas.models import parse_catalogue, single_model_catalogue
from stacks.bedrock_access import INVOKE_ACTIONS, model_grants
from stacks.catalogue_access import DECRYPT_ACTION, catalogue_grants, kms_key_arn
from tests.stack.conftest import CATALOGUE, FOUNDATION_MODEL_ID, GLOBAL_PROFILE_ID

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
    assert {g.actions for g in grants} == {INVOKE_ACTIONS}


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
