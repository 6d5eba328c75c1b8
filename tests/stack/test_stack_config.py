"""Configuration: every option is context, overrides change the template, bad values fail clearly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from lambdas import env_vars
from lambdas.auth import config as auth_env
from lambdas.catalogue import parse_catalogue
from lambdas.store import quotas
from stacks import config as stack_config
from stacks.config import ConfigError, RelayConfig, load_config
from tests.stack.conftest import CATALOGUE, OIDC_OVERRIDES, OVERRIDES, SECRET_PARTIAL_ARN, Synth
from tests.stack.template_queries import resources

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _as_documented(value: object) -> str:
    if value is None:
        return "null"
    if value == "":
        return '""'
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
    # cdk.json spells out every option at its default, so the file documents what can be set.
    context = json.loads(stack_config.CDK_JSON.read_text())["context"]
    assert {_camel(f.name) for f in fields(RelayConfig)} - set(context) <= {
        "cdkNag",
        "skipBundling",
        "removalPolicy",
        "apiGatewayCloudwatchRole",
    }
    assert config == RelayConfig()


def test_limits_and_defaults_match_the_functions_own() -> None:
    quota_variables = {env_vars.QUOTA_INFLIGHT, env_vars.QUOTA_DAILY_OUTPUT_TOKENS}
    assert quota_variables <= set(RelayConfig().function_environment("T"))
    assert stack_config.MAX_AUTH_LEEWAY_SECONDS == auth_env.MAX_LEEWAY_SECONDS
    defaults = RelayConfig()
    assert (defaults.quota_inflight, defaults.quota_daily_output_tokens) == (
        quotas.DEFAULT_INFLIGHT,
        quotas.DEFAULT_DAILY_OUTPUT_TOKENS,
    )
    assert defaults.auth_leeway_seconds == auth_env.DEFAULT_LEEWAY_SECONDS


# --- authentication ---------------------------------------------------------------------------------------------


def test_cognito_is_the_default_and_an_issuer_replaces_it() -> None:
    assert load_config().uses_cognito
    oidc = load_config(OIDC_OVERRIDES)
    assert not oidc.uses_cognito
    assert (oidc.auth_audience, oidc.auth_token_use, oidc.auth_oidc_discovery) == (
        ("relay-api", "relay-cli"),
        ("access",),
        True,
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"authIssuer": "http://login.example.com"}, r"^authIssuer 'http://login\.example\.com': an https:// URL"),
        ({"authIssuer": "login.example.com", "authAudience": "a"}, r"^authIssuer .*an https:// URL"),
        ({"authIssuer": "https://login.example.com/?tenant=1", "authAudience": "a"}, r"without query"),
        ({"authIssuer": "https://login.example.com"}, r"^authAudience: required with authIssuer"),
        ({"authIssuer": "https://login.example.com", "authAudience": "[]"}, r"^authAudience: required"),
        ({"authIssuer": "https://login.example.com", "authAudience": '["a b"]'}, r"^authAudience: 'a b' must be"),
        ({"authAudience": "relay-api"}, r"^authAudience applies to an external issuer: set authIssuer"),
        ({"authTokenUse": "access"}, r"^authTokenUse applies to an external issuer"),
        ({"authJwksUrl": "https://login.example.com/keys"}, r"^authJwksUrl applies to an external issuer"),
        ({"authOidcDiscovery": "true"}, r"^authOidcDiscovery applies to an external issuer"),
        ({**OIDC_OVERRIDES, "authJwksUrl": "http://login.example.com/keys"}, r"^authJwksUrl .*an https:// URL"),
        ({**OIDC_OVERRIDES, "authJwksUrl": "https://login.example.com/keys"}, r"set one"),
        ({**OIDC_OVERRIDES, "cognitoSelfSignUp": "true"}, r"^cognitoSelfSignUp applies to the stack's Cognito"),
        ({**OIDC_OVERRIDES, "cognitoThreatProtection": "true"}, r"^cognitoThreatProtection applies"),
        ({"authLeewaySeconds": "601"}, r"^authLeewaySeconds = 601: must be between 0 and 600"),
    ],
    ids=[
        "http-issuer",
        "schemeless-issuer",
        "issuer-query",
        "no-audience",
        "empty-audience",
        "audience-space",
        "audience-without-issuer",
        "token-use-without-issuer",
        "jwks-without-issuer",
        "discovery-without-issuer",
        "http-jwks",
        "jwks-and-discovery",
        "self-sign-up-with-issuer",
        "threat-protection-with-issuer",
        "leeway",
    ],
)
def test_invalid_auth_settings_raise_a_config_error(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"auth": "none"},
        {"authMode": "none"},
        {"noAuth": "true"},
        {"disableAuth": "true"},
        {"authorizer": "false"},
        {"allowAnonymous": "true"},
        {"cognito": "false"},
        {"authIsuer": "https://login.example.com"},
    ],
    ids=lambda o: next(iter(o)),
)
def test_there_is_no_switch_that_deploys_without_authentication(overrides: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"always authenticates \$connect"):
        load_config(overrides)


def test_the_cdks_own_context_keys_are_not_mistaken_for_auth_settings() -> None:
    config = load_config(
        {
            "@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId": True,
            "aws:cdk:enable-path-metadata": True,
            "somethingElse": "ignored",
        }
    )
    assert config.uses_cognito


# --- model catalogue ----------------------------------------------------------------------------------------------


def test_a_catalogue_arrives_as_an_object_or_as_json_text() -> None:
    from_cdk_json = load_config({"models": CATALOGUE})
    from_cli = load_config({"models": json.dumps(CATALOGUE)})
    assert from_cdk_json.catalogue() == from_cli.catalogue() == parse_catalogue(CATALOGUE)
    assert from_cdk_json.catalogue().default == "haiku"


@pytest.mark.parametrize("models", [None, "", "  "], ids=["absent", "empty", "blank"])
def test_without_a_catalogue_the_model_id_is_the_only_model(models: str | None) -> None:
    config = load_config({"models": models, "modelId": "eu.amazon.nova-lite-v1:0"})
    catalogue = config.catalogue()
    assert catalogue.aliases == ["eu.amazon.nova-lite-v1:0"]
    assert catalogue.get(None).provider == "bedrock"


def _catalogue_with(**entry: object) -> dict[str, object]:
    return {"models": {"m": entry}}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"models": "{not json"}, r"^models: RELAY_MODELS is not valid JSON"),
        ({"models": _catalogue_with(provider="gemini")}, r"^models: models\.m\.provider: 'gemini' is not one of"),
        ({"models": {"default": "x", "models": {}}}, r"^models: 'models' must be a non-empty object"),
        (
            {"models": _catalogue_with(provider="bedrock", modelId="anthropic.claude-*")},
            r"^models: 'anthropic\.claude-\*' would widen an IAM grant",
        ),
        (
            {
                "models": _catalogue_with(
                    provider="bedrock-converse", modelId="arn:aws:bedrock:us-east-1::foundation-model/*"
                )
            },
            r"would widen an IAM grant",
        ),
        (
            {"models": _catalogue_with(provider="bedrock-converse", modelId="arn:aws:s3:::bucket/model")},
            r"^models: 'arn:aws:s3:::bucket/model' is not a Bedrock ARN",
        ),
        (
            {"models": _catalogue_with(provider="bedrock-converse", modelId="anthropic claude")},
            r"is not a Bedrock model id",
        ),
        (
            {
                "models": _catalogue_with(
                    provider="openai",
                    baseUrl="https://x.example/v1",
                    model="m",
                    apiKeySecretArn=f"{SECRET_PARTIAL_ARN}*",
                )
            },
            r"would widen an IAM grant",
        ),
        (
            {
                "models": {
                    "default": "a",
                    "models": {
                        "a": {"provider": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
                        "b": {"provider": "bedrock", "modelId": "eu.anthropic.claude-haiku-4-5-20251001-v1:0"},
                    },
                },
                "modelRegions": "us-east-1",
            },
            r"^modelRegions is one list for every inference profile.*\(eu, us\)",
        ),
        (
            {
                "models": _catalogue_with(provider="bedrock", modelId="amazon.titan-text-express-v1"),
                "modelRegions": "us-east-1",
            },
            r"modelRegions applies to inference profile ids only",
        ),
        ({"models": CATALOGUE, "apiKeyKmsKeyId": "alias/relay"}, r"^apiKeyKmsKeyId 'alias/relay': .*an alias cannot"),
        ({"apiKeyKmsKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}, r"^apiKeyKmsKeyId is set, but no model reads"),
        ({"quotaInflight": "-1"}, r"^quotaInflight = -1: must be between 0 and 100"),
        ({"quotaDailyOutputTokens": "many"}, r"^quotaDailyOutputTokens: cannot use 'many'"),
    ],
    ids=[
        "not-json",
        "unknown-provider",
        "empty",
        "model-pattern",
        "arn-pattern",
        "not-bedrock-arn",
        "bad-model-id",
        "secret-pattern",
        "regions-across-geographies",
        "regions-without-profile",
        "kms-alias",
        "kms-without-keys",
        "quota-negative",
        "quota-type",
    ],
)
def test_invalid_catalogue_or_quota_settings_fail_the_synth_clearly(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(overrides)


def test_kms_key_arns_are_taken_as_given() -> None:
    arn = "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    assert load_config({"models": CATALOGUE, "apiKeyKmsKeyId": arn}).api_key_kms_key_id == arn


def test_the_configuration_imports_without_the_cdk_or_the_lambda_runtime() -> None:
    # localgw imports stacks.config: it must not need aws_cdk (nor boto3 or PyJWT, which the functions bring).
    blocked = ("aws_cdk", "constructs", "jsii", "boto3", "botocore", "jwt")
    code = (
        "import sys\n"
        f"sys.modules.update(dict.fromkeys({blocked!r}))\n"
        "from stacks.config import load_config\n"
        "print(sorted(load_config().function_environment('T')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=DOCS.parents[1], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "RELAY_MODELS" in result.stdout
