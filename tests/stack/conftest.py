"""Synthesized stacks shared by the stack tests. Each variant is synthesized once per session (a synth costs seconds
because jsii runs the CDK in node) with bundling skipped through the CDK's own `aws:cdk:bundling-stacks` switch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from lambdas.routes import AUTHORIZER, ROUTES, Authorizer, Route
from stacks.config import RelayConfig, load_config
from stacks.constructs.bundling import BUNDLING_STACKS_CONTEXT
from stacks.relay_stack import RelayStack

FOUNDATION_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
GLOBAL_PROFILE_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"

SECRET_PARTIAL_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:relay/openai"
SECRET_FULL_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:relay/groq-AbCdEf"
CUSTOM_MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/abc123"
KMS_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
# One model of every IAM target kind (bedrock-model, bedrock-arn, sagemaker-endpoint, secret, ssm-parameter), plus
# an OpenAI-compatible server without a key (no grant at all). As cdk.json holds it: an object, not a string.
CATALOGUE: Mapping[str, Any] = {
    "default": "haiku",
    "models": {
        "haiku": {"provider": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
        "titan": {"provider": "bedrock", "modelId": "amazon.titan-text-express-v1"},
        "nova": {"provider": "bedrock-converse", "modelId": "us.amazon.nova-lite-v1:0"},
        "custom": {"provider": "bedrock", "modelId": CUSTOM_MODEL_ARN, "family": "llama3"},
        "sm-llama": {"provider": "sagemaker", "endpointName": "Llama3-8B-Instruct", "format": "lmi"},
        "gpt": {
            "provider": "openai",
            "baseUrl": "https://api.openai.com/v1",
            "model": "gpt-4o-mini",
            "apiKeySecretArn": SECRET_PARTIAL_ARN,
        },
        "groq": {
            "provider": "openai",
            "baseUrl": "https://api.groq.com/openai/v1",
            "model": "llama-3.1-8b-instant",
            "apiKeySecretArn": SECRET_FULL_ARN,
        },
        "vllm": {
            "provider": "openai",
            "baseUrl": "https://vllm.example.com/v1",
            "model": "Qwen/Qwen3-8B",
            "apiKeyParameter": "/relay/vllm-key",
        },
        "public": {"provider": "openai", "baseUrl": "https://llm.example.com/v1", "model": "open-model"},
    },
}
CATALOGUE_OVERRIDES: Mapping[str, Any] = {"models": CATALOGUE, "apiKeyKmsKeyId": KMS_KEY_ID}

OIDC_ISSUER = "https://login.example.com/tenant-1/v2.0"
OIDC_OVERRIDES: Mapping[str, str] = {
    "authIssuer": OIDC_ISSUER,
    "authAudience": "relay-api,relay-cli",
    "authTokenUse": "access",
    "authOidcDiscovery": "true",
}

EXTRA_ROUTE = Route("summarize", "Summarize", "lambdas.handlers.summarize.handler", streaming=True)
TEST_AUTHORIZER = Authorizer(
    function="Authorize",
    handler="lambdas.handlers.authorize.handler",
    identity_sources=("route.request.querystring.token",),
)

OVERRIDES: Mapping[str, str] = {
    # Strings, as `-c key=value` delivers them.
    "stage": "prod",
    "sendTextTimeoutSeconds": "600",
    "sendTextMemoryMb": "1024",
    "functionMemoryMb": "512",
    "functionTimeoutSeconds": "20",
    "throttlingRateLimit": "12.5",
    "throttlingBurstLimit": "25",
    "logRetentionDays": "7",
    "removalPolicy": "destroy",
    "apiGatewayCloudwatchRole": "false",
    "modelRegions": "us-east-1,us-west-2",
    "quotaInflight": "5",
    "quotaDailyOutputTokens": "0",
    "authLeewaySeconds": "30",
    "cognitoSelfSignUp": "true",
    "cognitoThreatProtection": "true",
}


@dataclass(frozen=True)
class Synth:
    config: RelayConfig
    stack: RelayStack
    template: Template

    @property
    def json(self) -> dict[str, Any]:
        return self.template.to_json()


def synth(
    overrides: Mapping[str, Any] | None = None,
    *,
    routes: Sequence[Route] = ROUTES,
    authorizer: Authorizer | None = AUTHORIZER,
) -> Synth:
    config = load_config(overrides)
    app = cdk.App(context={BUNDLING_STACKS_CONTEXT: []})
    stack = RelayStack(app, config.stack_name, config=config, routes=routes, authorizer=authorizer)
    return Synth(config, stack, Template.from_stack(stack))


@pytest.fixture(scope="session")
def default_synth() -> Synth:
    return synth()


@pytest.fixture(scope="session")
def template(default_synth: Synth) -> Template:
    return default_synth.template


@pytest.fixture(scope="session")
def template_json(default_synth: Synth) -> dict[str, Any]:
    return default_synth.json


@pytest.fixture(scope="session")
def config(default_synth: Synth) -> RelayConfig:
    return default_synth.config


@pytest.fixture(scope="session")
def overridden_synth() -> Synth:
    return synth(OVERRIDES)


@pytest.fixture(scope="session")
def foundation_model_synth() -> Synth:
    return synth({"modelId": FOUNDATION_MODEL_ID})


@pytest.fixture(scope="session")
def global_profile_synth() -> Synth:
    return synth({"modelId": GLOBAL_PROFILE_ID})


@pytest.fixture(scope="session")
def oidc_synth() -> Synth:
    """An external OIDC issuer instead of the stack's own user pool."""
    return synth(OIDC_OVERRIDES)


@pytest.fixture(scope="session")
def catalogue_synth() -> Synth:
    """A model catalogue with one model of each IAM target kind and a customer-managed key for the API keys."""
    return synth(CATALOGUE_OVERRIDES)


@pytest.fixture(scope="session")
def extended_synth() -> Synth:
    """A route added to ROUTES and an authorizer set in lambdas.routes, with no other edit."""
    return synth(routes=(*ROUTES, EXTRA_ROUTE), authorizer=TEST_AUTHORIZER)


TABLE_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OPERATIONS_OVERRIDES: Mapping[str, str] = {
    # Every operations switch away from its default (stacks/constructs/operations.py).
    "alarmEmail": "ops@example.com",
    "alarmAnswerErrorRatePercent": "2.5",
    "alarmFirstTokenP95Ms": "3000",
    "alarmConcurrencyPercent": "90",
    "alarmStreamingErrors": "3",
    "alarmStreamingThrottles": "4",
    "alarmDynamodbThrottles": "6",
    "alarmApiServerErrors": "20",
    "sendTextReservedConcurrency": "50",
    "tableKmsKey": "create",
    "tracing": "true",
}


@pytest.fixture(scope="session")
def operations_synth() -> Synth:
    return synth(OPERATIONS_OVERRIDES)
