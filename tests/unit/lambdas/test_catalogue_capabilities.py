"""Protocol v2 capabilities in the catalogue: which families carry tools and reasoning, and the per-entry switches."""

from __future__ import annotations

import pytest

from lambdas.catalogue import CatalogueError, parse_catalogue, to_env_value

ENTRIES = {
    "claude": {"provider": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
    "converse": {"provider": "bedrock-converse", "modelId": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},
    "nova-converse": {"provider": "bedrock-converse", "modelId": "us.amazon.nova-pro-v1:0"},
    "r1-converse": {"provider": "bedrock-converse", "modelId": "us.deepseek.r1-v1:0", "reasoning": True},
    "llama": {"provider": "bedrock", "modelId": "meta.llama3-8b-instruct-v1:0"},
    "sm": {"provider": "sagemaker", "endpointName": "e", "format": "tgi"},
    "gpt": {"provider": "openai", "baseUrl": "http://h/v1", "model": "m"},
    "r1": {"provider": "openai", "baseUrl": "http://h/v1", "model": "deepseek-r1", "reasoning": True},
    "quiet": {"provider": "bedrock-converse", "modelId": "x", "tools": False, "reasoning": False},
}


def test_each_family_says_what_it_can_carry_and_entries_may_switch_it():
    models = parse_catalogue({"default": "claude", "models": ENTRIES}).models
    capabilities = {alias: (spec.supports_tools, spec.supports_reasoning) for alias, spec in models.items()}
    assert capabilities == {
        "claude": (True, True),
        "converse": (True, True),
        "nova-converse": (True, False),  # the relay asks Converse for Anthropic's thinking: Anthropic models only
        "r1-converse": (True, True),
        "llama": (False, False),
        "sm": (False, False),
        "gpt": (True, False),  # not every OpenAI-compatible model reasons: an entry says so
        "r1": (True, True),
        "quiet": (False, False),
    }


def test_the_switches_survive_the_environment_round_trip():
    catalogue = parse_catalogue({"default": "claude", "models": ENTRIES})
    again = parse_catalogue(to_env_value(catalogue))
    assert again.models["r1"].supports_reasoning and not again.models["quiet"].supports_tools


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({**ENTRIES["llama"], "tools": True}, "cannot carry tools"),
        ({**ENTRIES["sm"], "reasoning": True}, "cannot carry reasoning"),
        ({**ENTRIES["gpt"], "tools": "yes"}, "must be true or false"),
    ],
)
def test_a_switch_the_wire_format_cannot_honour_fails_the_catalogue(entry, words):
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue({"default": "a", "models": {"a": entry}})
    assert words in str(caught.value)
