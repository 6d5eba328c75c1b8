"""The Bedrock grant rules on their own (no synth): which ids are profiles, and the ARNs each shape gets."""

from __future__ import annotations

import re

import pytest

from stacks.bedrock_access import GEO_DESTINATION_REGIONS, model_grants, profile_prefix


@pytest.mark.parametrize(
    ("model_id", "prefix"),
    [
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "us"),
        ("us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", "us-gov"),
        ("eu.amazon.nova-lite-v1:0", "eu"),
        ("apac.anthropic.claude-3-haiku-20240307-v1:0", "apac"),
        ("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "jp"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "global"),
        ("anthropic.claude-3-haiku-20240307-v1:0", None),
        ("amazon.titan-text-express-v1", None),
        ("meta.llama3-8b-instruct-v1:0", None),
    ],
)
def test_profile_prefix_recognises_geographies_and_leaves_model_ids_alone(model_id: str, prefix: str | None) -> None:
    assert profile_prefix(model_id) == prefix


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
