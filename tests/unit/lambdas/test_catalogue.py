"""The model catalogue (`RELAY_MODELS`, `lambdas.catalogue`): validation messages, family rules, loading, and
`resolve()`. The IAM grants a catalogue needs are tested with the stack (tests/stack/test_stack_model_grants.py)."""

from __future__ import annotations

import json

import pytest

from lambdas.catalogue import (
    CatalogueError,
    UnknownModelError,
    family_for_model_id,
    geo_prefix,
    load_catalogue,
    parse_catalogue,
    resolve_spec,
    strip_geo_prefix,
    to_env_value,
)
from lambdas.providers import registry
from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.bedrock_converse import BedrockConverseProvider
from lambdas.providers.bedrock_invoke import BedrockInvokeProvider
from lambdas.providers.events import Stop
from lambdas.providers.openai_chat import OpenAIChatProvider
from lambdas.providers.sagemaker import SageMakerProvider

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:relay/openai-AbCdEf"
EXAMPLE = {
    "default": "haiku",
    "models": {
        "haiku": {"provider": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
        "llama": {"provider": "bedrock", "modelId": "meta.llama3-8b-instruct-v1:0", "maxTokensLimit": 2048},
        "nova": {"provider": "bedrock-converse", "modelId": "us.amazon.nova-lite-v1:0"},
        "sm-llama": {"provider": "sagemaker", "endpointName": "Llama3-8B-Endpoint", "format": "tgi"},
        "gpt": {
            "provider": "openai",
            "baseUrl": "https://api.openai.com/v1/",
            "model": "gpt-4o-mini",
            "apiKeySecretArn": SECRET,
        },
        "local": {"provider": "openai", "baseUrl": "http://127.0.0.1:11434/v1", "model": "llama3.2"},
    },
}


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic-messages"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic-messages"),
        ("anthropic.claude-v2:1", "anthropic-text"),
        ("anthropic.claude-instant-v1", "anthropic-text"),
        ("eu.meta.llama3-2-3b-instruct-v1:0", "llama3"),
        ("meta.llama3-70b-instruct-v1:0", "llama3"),
        ("mistral.mistral-7b-instruct-v0:2", "mistral"),
        ("mistral.mixtral-8x7b-instruct-v0:1", "mistral"),
        ("amazon.titan-text-express-v1", "titan-text"),
        ("apac.amazon.nova-pro-v1:0", "nova"),
        ("global.amazon.nova-2-lite-v1:0", "nova"),
        ("us-gov.amazon.nova-lite-v1:0", "nova"),
        ("cohere.command-r-plus-v1:0", "cohere-command-r"),
        ("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic-messages"),
        ("meta.llama2-13b-chat-v1", None),
        ("ai21.jamba-1-5-mini-v1:0", None),
    ],
)
def test_family_from_model_id(model_id: str, family: str | None) -> None:
    assert family_for_model_id(model_id) == family


def test_example_catalogue_parses_with_inferred_family_and_defaults() -> None:
    catalogue = parse_catalogue(EXAMPLE)
    assert catalogue.default == "haiku"
    assert catalogue.aliases == ["haiku", "llama", "nova", "sm-llama", "gpt", "local"]
    assert catalogue.models["llama"].family == "llama3"
    assert catalogue.models["llama"].max_tokens_limit == 2048
    assert catalogue.models["sm-llama"].template == "llama3"
    assert catalogue.models["gpt"].base_url == "https://api.openai.com/v1"


def test_family_override_wins() -> None:
    custom = "arn:aws:bedrock:us-east-1:123456789012:custom-model/x"
    catalogue = parse_catalogue({"models": {"ft": {"provider": "bedrock", "family": "llama3", "modelId": custom}}})
    assert catalogue.models["ft"].family == "llama3"


def test_single_model_needs_no_default() -> None:
    assert parse_catalogue({"models": {"only": {"provider": "bedrock-converse", "modelId": "x"}}}).default == "only"


def test_env_value_round_trips() -> None:
    value = to_env_value(EXAMPLE)
    assert parse_catalogue(value) == parse_catalogue(EXAMPLE)
    assert json.loads(value)["models"]["llama"]["family"] == "llama3"


INVALID = [
    pytest.param("{", "RELAY_MODELS is not valid JSON", id="not-json"),
    pytest.param([], "must be a JSON object", id="not-an-object"),
    pytest.param({"models": {}}, "'models' must be a non-empty object", id="no-models"),
    pytest.param(
        {
            "models": {
                "a": {"provider": "bedrock-converse", "modelId": "x"},
                "b": {"provider": "bedrock-converse", "modelId": "y"},
            }
        },
        "'default' is required when there is more than one model",
        id="no-default",
    ),
    pytest.param(
        {"default": "c", "models": {"a": {"provider": "bedrock-converse", "modelId": "x"}}},
        "default 'c' is not one of the models: a",
        id="default-unknown",
    ),
    pytest.param(
        {"models": {"a": {"provider": "azure"}}},
        "models.a.provider: 'azure' is not one of bedrock, bedrock-converse, sagemaker, openai",
        id="bad-provider",
    ),
    pytest.param(
        {"models": {"a": {"provider": "bedrock"}}},
        "models.a.modelId: required for provider 'bedrock'",
        id="bedrock-no-model-id",
    ),
    pytest.param(
        {"models": {"a": {"provider": "bedrock", "modelId": "ai21.jamba-1-5-mini-v1:0"}}},
        "models.a.family: cannot tell the family of 'ai21.jamba-1-5-mini-v1:0'; set 'family' to one of",
        id="family-not-inferable",
    ),
    pytest.param(
        {"models": {"a": {"provider": "bedrock", "modelId": "x", "family": "gpt"}}},
        "models.a.family: 'gpt' is not one of",
        id="bad-family",
    ),
    pytest.param(
        {"models": {"a": {"provider": "bedrock-converse", "modelId": "x", "modelid": "y"}}},
        "models.a: keys ['modelid'] do not apply to provider 'bedrock-converse'",
        id="typo-key",
    ),
    pytest.param(
        {"models": {"a": {"provider": "sagemaker", "endpointName": "ep"}}},
        "models.a.format: required one of lmi, lmi-outputs, tgi",
        id="sagemaker-no-format",
    ),
    pytest.param(
        {"models": {"a": {"provider": "sagemaker", "endpointName": "ep_1", "format": "tgi"}}},
        "models.a.endpointName: 'ep_1' is not a SageMaker endpoint name",
        id="bad-endpoint-name",
    ),
    pytest.param(
        {"models": {"a": {"provider": "sagemaker", "endpointName": "ep", "format": "tgi", "template": "chatml"}}},
        "models.a.template: 'chatml' is not one of llama3, mistral, anthropic-text, titan-text",
        id="bad-template",
    ),
    pytest.param(
        {"models": {"a": {"provider": "openai", "model": "m"}}},
        "models.a.baseUrl: required for provider 'openai'",
        id="openai-no-url",
    ),
    pytest.param(
        {"models": {"a": {"provider": "openai", "baseUrl": "ftp://x", "model": "m"}}},
        "models.a.baseUrl: 'ftp://x' is not an http(s) URL",
        id="openai-bad-url",
    ),
    pytest.param(
        {
            "models": {
                "a": {
                    "provider": "openai",
                    "baseUrl": "http://x",
                    "model": "m",
                    "apiKeyEnv": "K",
                    "apiKeyParameter": "/k",
                }
            }
        },
        "models.a: at most one API key source, got apiKeyParameter, apiKeyEnv",
        id="two-key-sources",
    ),
    pytest.param(
        {
            "models": {
                "a": {"provider": "openai", "baseUrl": "http://x", "model": "m", "apiKeySecretArn": "relay/openai"}
            }
        },
        "models.a.apiKeySecretArn: 'relay/openai' is not a Secrets Manager secret ARN",
        id="secret-not-arn",
    ),
    pytest.param(
        {"models": {"a": {"provider": "bedrock-converse", "modelId": "x", "maxTokensLimit": 0}}},
        "models.a.maxTokensLimit: must be an integer between 1 and 200000, got 0",
        id="max-tokens",
    ),
    pytest.param(
        {"models": {"bad alias": {"provider": "bedrock-converse", "modelId": "x"}}},
        "models.bad alias: an alias is 1-64 of letters",
        id="bad-alias",
    ),
    pytest.param(
        {"models": {"a": {"provider": "bedrock-converse", "modelId": ""}}},
        "models.a.modelId: must be a non-empty string",
        id="empty-string",
    ),
]


@pytest.mark.parametrize(("data", "message"), INVALID)
def test_invalid_catalogue_message(data: object, message: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(data)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue({"default": "a", "models": {"a": {"provider": "bedrock"}, "b": {"provider": "openai"}}})
    text = str(caught.value)
    assert "models.a.modelId" in text and "models.b.baseUrl" in text and "models.b.model:" in text


def test_without_relay_models_the_catalogue_is_the_single_model_id() -> None:
    catalogue = load_catalogue({"RELAY_MODEL_ID": "us.anthropic.claude-haiku-4-5-20251001-v1:0"})
    (spec,) = catalogue.models.values()
    assert (catalogue.default, spec.provider, spec.family) == (spec.alias, "bedrock", "anthropic-messages")


def test_without_any_model_configuration_the_error_says_so() -> None:
    with pytest.raises(CatalogueError, match="neither RELAY_MODELS nor RELAY_MODEL_ID is set"):
        load_catalogue({})


def test_invalid_json_in_relay_models_is_named_by_the_loader() -> None:
    with pytest.raises(CatalogueError, match="RELAY_MODELS is not valid JSON"):
        load_catalogue({"RELAY_MODELS": "{", "RELAY_MODEL_ID": "us.anthropic.claude-haiku-4-5-20251001-v1:0"})


def test_the_loader_parses_each_value_once_and_sees_changes() -> None:
    environ = {"RELAY_MODELS": json.dumps(EXAMPLE)}
    assert load_catalogue(environ) is load_catalogue(dict(environ))
    single = load_catalogue({"RELAY_MODEL_ID": "us.anthropic.claude-haiku-4-5-20251001-v1:0"})
    assert single.aliases == ["us.anthropic.claude-haiku-4-5-20251001-v1:0"]


@pytest.mark.parametrize(
    ("model_id", "prefix", "bare"),
    [
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "us", "anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0", "us-gov", "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("eu.amazon.nova-lite-v1:0", "eu", "amazon.nova-lite-v1:0"),
        ("apac.anthropic.claude-3-haiku-20240307-v1:0", "apac", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("jp.anthropic.claude-sonnet-4-5-20250929-v1:0", "jp", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "global", "anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ("anthropic.claude-3-haiku-20240307-v1:0", None, "anthropic.claude-3-haiku-20240307-v1:0"),
        ("amazon.titan-text-express-v1", None, "amazon.titan-text-express-v1"),
        ("meta.llama3-8b-instruct-v1:0", None, "meta.llama3-8b-instruct-v1:0"),
    ],
)
def test_geo_prefix_recognises_geographies_and_leaves_model_ids_alone(
    model_id: str, prefix: str | None, bare: str
) -> None:
    assert geo_prefix(model_id) == prefix
    assert strip_geo_prefix(model_id) == bare


# --- resolve() -----------------------------------------------------------------------------------------------


@pytest.fixture
def relay_models(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("RELAY_MODELS", json.dumps(EXAMPLE))
    yield


def test_resolve_default_and_every_provider_kind(relay_models) -> None:
    assert registry.resolve(None)[0] == "haiku"
    kinds = {alias: type(registry.resolve(alias)[1]) for alias in EXAMPLE["models"]}
    assert kinds["haiku"] is BedrockInvokeProvider
    assert kinds["nova"] is BedrockConverseProvider
    assert kinds["sm-llama"] is SageMakerProvider
    assert kinds["gpt"] is OpenAIChatProvider
    assert registry.resolve("llama")[1].kind == "bedrock"


def test_unknown_alias_lists_the_allowed_ones(relay_models) -> None:
    with pytest.raises(registry.UnknownModelError) as caught:
        registry.resolve("gpt-5")
    assert caught.value.alias == "gpt-5"
    assert str(caught.value) == "unknown model 'gpt-5'; available: haiku, llama, nova, sm-llama, gpt, local"


def test_resolve_spec_is_the_catalogue_lookup_resolve_builds_on(relay_models) -> None:
    assert resolve_spec(None).alias == registry.resolve(None)[0] == "haiku"
    assert resolve_spec("sm-llama").endpoint_name == "Llama3-8B-Endpoint"
    with pytest.raises(UnknownModelError):
        resolve_spec("gpt-5")


def test_without_relay_models_resolve_serves_the_single_model_id(monkeypatch) -> None:
    monkeypatch.delenv("RELAY_MODELS", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("RELAY_MODEL_ID", "us.anthropic.claude-haiku-4-5-20251001-v1:0")
    alias, provider = registry.resolve(None)
    assert alias == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert registry.resolve(alias)[0] == alias
    assert isinstance(provider, BedrockInvokeProvider)
    with pytest.raises(registry.UnknownModelError, match=r"available: us\.anthropic\.claude-haiku-4-5"):
        registry.resolve("other")


class _Recording:
    kind = "test"

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []

    def stream(self, request: ModelRequest):
        self.requests.append(request)
        yield Stop("end_turn")


@pytest.mark.parametrize(("asked", "sent"), [(4096, 2048), (100, 100)])
def test_max_tokens_limit_caps_the_request(asked: int, sent: int) -> None:
    inner = _Recording()
    capped = registry.MaxTokensCap(inner, 2048)
    list(capped.stream(ModelRequest((Message("user", "x"),), max_tokens=asked)))
    assert inner.requests[0].max_tokens == sent
    assert capped.kind == "test"


def test_models_frame(relay_models) -> None:
    from lambdas.handlers.models import models_frame

    frame = models_frame()
    assert frame["type"] == "models"
    assert frame["models"][:3] == [
        {
            "id": "haiku",
            "provider": "bedrock",
            "default": True,
            "tools": True,
            "reasoning": True,
            "attachments": ["image", "document"],
        },
        {"id": "llama", "provider": "bedrock", "default": False, "tools": False, "reasoning": False, "attachments": []},
        {
            "id": "nova",
            "provider": "bedrock-converse",
            "default": False,
            "tools": True,
            "reasoning": False,
            "attachments": ["image", "document"],
        },
    ]
    assert [m["id"] for m in frame["models"] if m["default"]] == ["haiku"]


def test_models_handler_posts_the_frame_to_the_caller(relay_models, monkeypatch) -> None:
    from lambdas.handlers import models as handler_module

    posted: list[tuple[dict, dict]] = []
    monkeypatch.setattr(handler_module, "reply", lambda event, frame: posted.append((event, frame)) or True)
    event = {
        "requestContext": {"connectionId": "R0oXAdfD0kwCH6w=", "routeKey": "models"},
        "body": '{"action":"models"}',
    }

    class Context:
        function_name = "Models"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:Models"
        aws_request_id = "req-1"

    assert handler_module.handler(event, Context()) == {"statusCode": 200}
    assert posted == [(event, handler_module.models_frame())]


ATTACHMENT_DEFAULTS = {
    "anthropic-messages": ({"provider": "bedrock", "modelId": "anthropic.claude-3-haiku-v1:0"}, ("image", "document")),
    "converse": ({"provider": "bedrock-converse", "modelId": "any.model-v1"}, ("image", "document")),
    "nova-invoke": ({"provider": "bedrock", "modelId": "us.amazon.nova-lite-v1:0"}, ("image", "document")),
    "llama-invoke": ({"provider": "bedrock", "modelId": "meta.llama3-8b-instruct-v1:0"}, ()),
    "openai": ({"provider": "openai", "baseUrl": "http://h/v1", "model": "m"}, ()),
    "sagemaker": ({"provider": "sagemaker", "endpointName": "e", "format": "tgi"}, ()),
}  # fmt: skip


@pytest.mark.parametrize(("entry", "kinds"), ATTACHMENT_DEFAULTS.values(), ids=ATTACHMENT_DEFAULTS.keys())
def test_attachments_default_to_what_the_wire_format_carries(entry, kinds) -> None:
    assert parse_catalogue({"models": {"m": entry}}).models["m"].attachments == kinds


def test_an_openai_vision_model_opts_in_to_images() -> None:
    entry = {"provider": "openai", "baseUrl": "http://h/v1", "model": "m", "attachments": ["image"]}
    assert parse_catalogue({"models": {"m": entry}}).models["m"].attachments == ("image",)


@pytest.mark.parametrize(
    "entry",
    [
        {"provider": "openai", "baseUrl": "http://h/v1", "model": "m", "attachments": ["document"]},
        {"provider": "bedrock", "modelId": "meta.llama3-8b-instruct-v1:0", "attachments": ["image"]},
        {"provider": "bedrock-converse", "modelId": "x", "attachments": "image"},
    ],
)
def test_attachments_a_wire_format_cannot_carry_are_refused(entry) -> None:
    with pytest.raises(CatalogueError, match="attachments"):
        parse_catalogue({"models": {"m": entry}})
