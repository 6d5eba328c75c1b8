"""Configuration: every option is context, overrides change the template, bad values fail clearly."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest

from stacks.config import ConfigError, RelayConfig, load_config
from tests.stack.conftest import OVERRIDES, Synth
from tests.stack.template_queries import resources

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _as_documented(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def test_overrides_arrive_typed_from_strings(overridden_synth: Synth) -> None:
    config = overridden_synth.config
    assert (config.stage, config.send_text_timeout_seconds, config.throttling_rate_limit) == ("prod", 600, 12.5)
    assert config.model_regions == ("us-east-1", "us-west-2")
    assert config.api_gateway_cloudwatch_role is False


def test_override_changes_the_synthesized_template(default_synth: Synth, overridden_synth: Synth) -> None:
    def stage(synth: Synth) -> dict:
        (resource,) = resources(synth.json, "AWS::ApiGatewayV2::Stage").values()
        return resource["Properties"]

    assert stage(default_synth)["StageName"] == "dev"
    assert stage(overridden_synth)["StageName"] == "prod"
    assert stage(overridden_synth)["DefaultRouteSettings"] == {"ThrottlingRateLimit": 12.5, "ThrottlingBurstLimit": 25}
    assert overridden_synth.json["Outputs"]["WebSocketUrl"] != default_synth.json["Outputs"]["WebSocketUrl"]
    assert set(OVERRIDES) <= {_camel(f.name) for f in fields(RelayConfig)}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stage": "my stage"}, r"^stage 'my stage'"),
        ({"sendTextTimeoutSeconds": "901"}, r"^sendTextTimeoutSeconds = 901: must be between 30 and 900"),
        ({"sendTextTimeoutSeconds": "five"}, r"^sendTextTimeoutSeconds: cannot use 'five'"),
        ({"logRetentionDays": "2"}, r"^logRetentionDays 2: one of 1, 3, 5"),
        ({"removalPolicy": "snapshot"}, r"^removalPolicy 'snapshot': one of retain, destroy"),
        ({"modelId": "anthropic.*"}, r"^modelId 'anthropic\.\*': .*not an ARN or a pattern"),
        ({"modelId": "arn:aws:bedrock:us-east-1::foundation-model/x"}, r"^modelId .*not an ARN"),
        ({"modelRegions": "us-east-1,moon-1"}, r"^modelRegions: 'moon-1' is not an AWS region"),
        (
            {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "modelRegions": "us-east-1"},
            r"modelRegions applies to inference profile ids only",
        ),
    ],
    ids=[
        "stage",
        "timeout-range",
        "timeout-type",
        "retention",
        "removal",
        "model-wildcard",
        "model-arn",
        "region",
        "regions-for-model",
    ],
)
def test_invalid_context_raises_a_config_error_naming_the_key(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides)


def test_every_option_is_documented_with_its_default() -> None:
    text = DOCS.read_text()
    defaults = RelayConfig()
    for field in fields(RelayConfig):
        row = re.search(rf"^\| `{_camel(field.name)}` \| `([^`]*)` \|", text, re.MULTILINE)
        assert row, f"{_camel(field.name)} missing from {DOCS.name}"
        assert row[1] == _as_documented(getattr(defaults, field.name)), _camel(field.name)


def test_cdk_json_context_is_valid_configuration() -> None:
    config = load_config()
    assert config.stack_name == "WsRelay"
