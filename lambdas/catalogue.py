"""The model catalogue: the allow-list of model aliases a client may ask for, and where each one is served.

The catalogue travels as JSON in the environment variable `RELAY_MODELS`:

    {"default": "haiku",
     "models": {"haiku": {"provider": "bedrock", "modelId": "us.anthropic.claude-haiku-4-5-20251001-v1:0"},
                "local": {"provider": "openai", "baseUrl": "http://127.0.0.1:11434/v1", "model": "llama3.2"}}}

Without `RELAY_MODELS`, the catalogue is the single alias `RELAY_MODEL_ID` served by Bedrock as Anthropic Messages.
docs/models.md is the reference for every key.

`load_catalogue` is the one loader: the functions, the CDK stack and localgw all turn their configuration into a
catalogue through it. Standard library only, so the stack and localgw import it without the functions' dependencies;
the IAM grants a catalogue needs are the stack's business (`stacks.model_grants`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Final

from lambdas import env_vars

# Provider kinds: what serves the model.
BEDROCK: Final = "bedrock"
"""Bedrock InvokeModelWithResponseStream with the model family's native JSON (`family`)."""
BEDROCK_CONVERSE: Final = "bedrock-converse"
"""Bedrock ConverseStream: one request and event shape for any model that supports it."""
SAGEMAKER: Final = "sagemaker"
"""SageMaker InvokeEndpointWithResponseStream on an LMI or TGI container (`format`)."""
OPENAI: Final = "openai"
"""An OpenAI-compatible `/chat/completions` server (OpenAI, vLLM, Ollama, LM Studio)."""
PROVIDERS: Final = (BEDROCK, BEDROCK_CONVERSE, SAGEMAKER, OPENAI)

# Bedrock invoke families: the model's native request body and stream chunks.
ANTHROPIC_MESSAGES: Final = "anthropic-messages"
ANTHROPIC_TEXT: Final = "anthropic-text"
"""Claude v2 / Instant text completions (`\\n\\nHuman: ... \\n\\nAssistant:`)."""
LLAMA3: Final = "llama3"
MISTRAL: Final = "mistral"
TITAN_TEXT: Final = "titan-text"
NOVA: Final = "nova"
COHERE_COMMAND_R: Final = "cohere-command-r"
FAMILIES: Final = (ANTHROPIC_MESSAGES, ANTHROPIC_TEXT, LLAMA3, MISTRAL, TITAN_TEXT, NOVA, COHERE_COMMAND_R)

# SageMaker stream formats and the prompt templates a SageMaker model can be rendered with.
LMI: Final = "lmi"
"""DJL LMI rolling batch: JSON lines `{"token": {"text"}}`, the last adding `generated_text` and `details`."""
LMI_OUTPUTS: Final = "lmi-outputs"
"""Older LMI: JSON lines `{"outputs": [" text"]}`."""
TGI: Final = "tgi"
"""Hugging Face TGI: server-sent events `data:{"token": {...}, "generated_text", "details"}`."""
SAGEMAKER_FORMATS: Final = (LMI, LMI_OUTPUTS, TGI)
PROMPT_TEMPLATES: Final = (LLAMA3, MISTRAL, ANTHROPIC_TEXT, TITAN_TEXT)
DEFAULT_SAGEMAKER_TEMPLATE: Final = LLAMA3

GEOGRAPHIES: Final = ("us", "us-gov", "eu", "apac", "jp", "au", "ca", "in", "global")
"""The prefixes of cross-region inference profile ids (`us.anthropic...`): the model id follows the first dot."""
GLOBAL_GEOGRAPHY: Final = "global"
"""The prefix of global inference profiles, which may route to any commercial region."""

# The family of a bare Bedrock model id, first match wins (Claude v2 before the other Claude models).
_FAMILY_BY_PREFIX: Final = (
    ("anthropic.claude-v2", ANTHROPIC_TEXT),
    ("anthropic.claude-instant", ANTHROPIC_TEXT),
    ("anthropic.claude", ANTHROPIC_MESSAGES),
    ("meta.llama3", LLAMA3),
    ("mistral.", MISTRAL),
    ("amazon.titan-text", TITAN_TEXT),
    ("amazon.titan-tg1", TITAN_TEXT),
    ("amazon.nova", NOVA),
    ("cohere.command-r", COHERE_COMMAND_R),
)

MAX_TOKENS_CEILING: Final = 200_000

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")
_PARAMETER = re.compile(r"^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter)?/?[A-Za-z0-9_.\-/]{1,2048}$")

# Every key a catalogue entry may hold, per provider: anything else is a typo worth failing the deploy for.
_COMMON_KEYS: Final = frozenset({"provider", "maxTokensLimit", "tools", "reasoning", "attachments"})
_KEYS: Final[dict[str, frozenset[str]]] = {
    BEDROCK: _COMMON_KEYS | {"modelId", "family"},
    BEDROCK_CONVERSE: _COMMON_KEYS | {"modelId"},
    SAGEMAKER: _COMMON_KEYS | {"endpointName", "format", "template"},
    OPENAI: _COMMON_KEYS | {"baseUrl", "model", "apiKeySecretArn", "apiKeyParameter", "apiKeyEnv"},
}


# Protocol v2 capabilities: which (provider, family) can carry tools and reasoning at all, and which do by default.
# An entry may switch a capability off (`"tools": false`), or on only where its wire format can carry it.
TOOL_CAPABLE: Final[dict[tuple[str, str | None], bool]] = {
    (BEDROCK, ANTHROPIC_MESSAGES): True,
    (BEDROCK_CONVERSE, None): True,
    (OPENAI, None): True,
}
"""(provider, family) → tool support by default; absent: the wire format cannot carry tools."""
REASONING_CAPABLE: Final[dict[tuple[str, str | None], bool]] = {
    (BEDROCK, ANTHROPIC_MESSAGES): True,
    # The relay asks Converse models for Anthropic's `thinking` (additionalModelRequestFields): on by default for
    # Anthropic models only (`_converse_reasons`); an entry may say `"reasoning": true` for another.
    (BEDROCK_CONVERSE, None): False,
    # Not every OpenAI-compatible model reasons, and `reasoning_effort` is refused by those that do not:
    # a catalogue entry says `"reasoning": true` for a model that does.
    (OPENAI, None): False,
}
"""(provider, family) → reasoning support by default; absent: the wire format cannot carry reasoning."""
NO_STOP_SEQUENCES: Final[frozenset[tuple[str, str | None]]] = frozenset({(BEDROCK, LLAMA3)})
"""(provider, family) whose request body has no stop sequences: asking them for some is refused, not dropped."""


def _capable_key(spec: ModelSpec) -> tuple[str, str | None]:
    return (spec.provider, spec.family if spec.provider == BEDROCK else None)


def _capability(spec: ModelSpec, configured: bool | None, table: Mapping[tuple[str, str | None], bool]) -> bool:
    key = _capable_key(spec)
    if key not in table:
        return False
    if configured is not None:
        return configured
    if table is REASONING_CAPABLE and spec.provider == BEDROCK_CONVERSE:
        return _converse_reasons(spec)
    return table[key]


def _converse_reasons(spec: ModelSpec) -> bool:
    return strip_geo_prefix((spec.model_id or "").rsplit("/", 1)[-1]).startswith("anthropic.")


class CatalogueError(ValueError):
    """The model catalogue is malformed; the message names every offending key."""


class UnknownModelError(LookupError):
    """The client named a model alias that is not in the catalogue."""

    def __init__(self, alias: str, known: list[str]) -> None:
        super().__init__(f"unknown model {alias!r}; available: {', '.join(known)}")
        self.alias = alias
        self.known = known


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One allowed model alias and where it is served. Built by `parse_catalogue`, which validates it."""

    alias: str
    provider: str
    model_id: str | None = None
    """Bedrock model id, inference profile id (`us.anthropic...`) or ARN."""
    family: str | None = None
    """Bedrock invoke only: the native format; inferred from `model_id` when not configured."""
    endpoint_name: str | None = None
    format: str | None = None
    """SageMaker only: `lmi`, `lmi-outputs` or `tgi`."""
    template: str | None = None
    """SageMaker only: the prompt template the endpoint's model expects (default `llama3`)."""
    base_url: str | None = None
    model: str | None = None
    """OpenAI-compatible only: the server's model name."""
    api_key_secret_arn: str | None = None
    api_key_parameter: str | None = None
    api_key_env: str | None = None
    max_tokens_limit: int | None = None
    """Caps the request's max tokens for this model (the relay-wide limit still applies)."""
    tools: bool | None = None
    """Configured tool support; None: what the provider/family supports (`supports_tools`)."""
    reasoning: bool | None = None
    """Configured reasoning support; None: what the provider/family supports (`supports_reasoning`)."""
    attachments: tuple[str, ...] = ()
    """What the model takes with a text: `image`, `document` (docs/models.md, Attachments)."""

    @property
    def supports_tools(self) -> bool:
        """Whether `sendtext` may offer this model tools (protocol v2)."""
        return _capability(self, self.tools, TOOL_CAPABLE)

    @property
    def supports_reasoning(self) -> bool:
        """Whether `sendtext` may ask this model to reason first (protocol v2)."""
        return _capability(self, self.reasoning, REASONING_CAPABLE)

    @property
    def supports_stop_sequences(self) -> bool:
        """Whether the model's wire format carries stop sequences (Llama's native invoke body has no field)."""
        return _capable_key(self) not in NO_STOP_SEQUENCES

    def to_json(self) -> dict[str, Any]:
        """The catalogue entry in its JSON (camelCase) form, without unset keys."""
        pairs = {
            "provider": self.provider,
            "modelId": self.model_id,
            "family": self.family,
            "endpointName": self.endpoint_name,
            "format": self.format,
            "template": self.template,
            "baseUrl": self.base_url,
            "model": self.model,
            "apiKeySecretArn": self.api_key_secret_arn,
            "apiKeyParameter": self.api_key_parameter,
            "apiKeyEnv": self.api_key_env,
            "maxTokensLimit": self.max_tokens_limit,
            "tools": self.tools,
            "reasoning": self.reasoning,
            "attachments": list(self.attachments),
        }
        return {key: value for key, value in pairs.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Catalogue:
    default: str
    models: Mapping[str, ModelSpec] = field(default_factory=dict)
    """Alias → spec, in configuration order (the order the `models` frame lists them)."""

    @property
    def aliases(self) -> list[str]:
        return list(self.models)

    def get(self, alias: str | None) -> ModelSpec | None:
        """The spec for an alias (None = the default), or None when the alias is not allowed."""
        return self.models.get(self.default if alias is None else alias)

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "models": {alias: spec.to_json() for alias, spec in self.models.items()}}


def geo_prefix(model_id: str) -> str | None:
    """The geography (`us`, `eu`, `global`, ...) when `model_id` names a cross-region inference profile, else None."""
    prefix, dot, _ = model_id.partition(".")
    return prefix if dot and prefix in GEOGRAPHIES else None


def strip_geo_prefix(model_id: str) -> str:
    """The foundation model id inside a cross-region inference profile id (`us.meta.llama3-...` → `meta.llama3-...`)."""
    return model_id.partition(".")[2] if geo_prefix(model_id) else model_id


def family_for_model_id(model_id: str) -> str | None:
    """The Bedrock invoke family of a model id or inference profile id; None when it cannot be told."""
    bare = strip_geo_prefix(model_id.rsplit("/", 1)[-1])
    for prefix, family in _FAMILY_BY_PREFIX:
        if bare.startswith(prefix):
            return family
    return None


def parse_catalogue(data: Mapping[str, Any] | str) -> Catalogue:
    """Validate a catalogue (a mapping or its JSON text); raise CatalogueError naming every problem found."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise CatalogueError(f"{env_vars.MODELS} is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise CatalogueError(f'the catalogue must be a JSON object {{"default": ..., "models": {{...}}}}, got {data!r}')
    problems: list[str] = []
    unknown = set(data) - {"default", "models"}
    if unknown:
        problems.append(f"unknown top-level keys {sorted(unknown)}; expected 'default' and 'models'")
    entries = data.get("models")
    if not isinstance(entries, Mapping) or not entries:
        raise CatalogueError("; ".join([*problems, "'models' must be a non-empty object of alias → model"]))
    models: dict[str, ModelSpec] = {}
    for alias, entry in entries.items():
        spec = _parse_entry(str(alias), entry, problems)
        if spec is not None:
            models[spec.alias] = spec
    default = data.get("default")
    if default is None and len(entries) == 1:
        default = next(iter(entries))
    if default is None:
        problems.append("'default' is required when there is more than one model")
    elif default not in entries:
        problems.append(f"default {default!r} is not one of the models: {', '.join(map(str, entries))}")
    if problems:
        raise CatalogueError("; ".join(problems))
    return Catalogue(default=str(default), models=models)


def single_model_catalogue(model_id: str) -> Catalogue:
    """The catalogue when only `RELAY_MODEL_ID` is set: that id is the alias, served as Anthropic Messages."""
    if not model_id.strip():
        raise CatalogueError(f"neither {env_vars.MODELS} nor {env_vars.MODEL_ID} is set: no model to serve")
    spec = ModelSpec(alias=model_id, provider=BEDROCK, model_id=model_id, family=ANTHROPIC_MESSAGES)
    return Catalogue(default=model_id, models={model_id: spec})


def load_catalogue(environ: Mapping[str, str] | None = None) -> Catalogue:
    """The catalogue of an environment (default `os.environ`): `RELAY_MODELS` when set, else the single
    `RELAY_MODEL_ID`. Parsed once per distinct value; raises CatalogueError when invalid."""
    env = os.environ if environ is None else environ
    return _load(env.get(env_vars.MODELS, "").strip(), env.get(env_vars.MODEL_ID, ""))


def resolve_spec(alias: str | None) -> ModelSpec:
    """The spec of a client's `model` (None = the default) in the catalogue of `os.environ`. Raises
    UnknownModelError, or CatalogueError when the catalogue is invalid."""
    current = load_catalogue()
    spec = current.get(alias)
    if spec is None:
        raise UnknownModelError(alias or "", current.aliases)
    return spec


@lru_cache(maxsize=8)
def _load(models: str, model_id: str) -> Catalogue:
    return parse_catalogue(models) if models else single_model_catalogue(model_id)


def to_env_value(catalogue: Catalogue | Mapping[str, Any]) -> str:
    """The `RELAY_MODELS` value for a catalogue (validated first): what the stack and localgw put in the env."""
    parsed = catalogue if isinstance(catalogue, Catalogue) else parse_catalogue(catalogue)
    return json.dumps(parsed.to_json(), separators=(",", ":"), sort_keys=False)


def _parse_entry(alias: str, entry: Any, problems: list[str]) -> ModelSpec | None:
    where = f"models.{alias}"
    if not _ALIAS.match(alias):
        problems.append(f"{where}: an alias is 1-64 of letters, digits and '._:-', starting with a letter or digit")
    if not isinstance(entry, Mapping):
        problems.append(f"{where}: must be an object with at least a 'provider'")
        return None
    provider = entry.get("provider")
    if provider not in PROVIDERS:
        problems.append(f"{where}.provider: {provider!r} is not one of {', '.join(PROVIDERS)}")
        return None
    unknown = set(entry) - _KEYS[provider]
    if unknown:
        problems.append(
            f"{where}: keys {sorted(unknown)} do not apply to provider {provider!r} "
            f"(allowed: {', '.join(sorted(_KEYS[provider]))})"
        )
    before = len(problems)
    spec = ModelSpec(
        alias=alias,
        provider=provider,
        model_id=_string(entry, "modelId", where, problems),
        family=_string(entry, "family", where, problems),
        endpoint_name=_string(entry, "endpointName", where, problems),
        format=_string(entry, "format", where, problems),
        template=_string(entry, "template", where, problems),
        base_url=_string(entry, "baseUrl", where, problems),
        model=_string(entry, "model", where, problems),
        api_key_secret_arn=_string(entry, "apiKeySecretArn", where, problems),
        api_key_parameter=_string(entry, "apiKeyParameter", where, problems),
        api_key_env=_string(entry, "apiKeyEnv", where, problems),
        max_tokens_limit=_max_tokens(entry, where, problems),
        tools=_flag(entry, "tools", where, problems),
        reasoning=_flag(entry, "reasoning", where, problems),
    )
    check = {
        BEDROCK: _check_bedrock,
        BEDROCK_CONVERSE: _check_converse,
        SAGEMAKER: _check_sagemaker,
        OPENAI: _check_openai,
    }[provider]
    spec = check(spec, where, problems)
    _check_capabilities(spec, where, problems)
    spec = _attachments(spec, entry.get("attachments"), where, problems)
    return spec if len(problems) == before else None


def _flag(entry: Mapping[str, Any], key: str, where: str, problems: list[str]) -> bool | None:
    value = entry.get(key)
    if value is None or isinstance(value, bool):
        return value
    problems.append(f"{where}.{key}: must be true or false, got {value!r}")
    return None


def _check_capabilities(spec: ModelSpec, where: str, problems: list[str]) -> None:
    """`"tools": true` / `"reasoning": true` only where the wire format can carry them."""
    for key, configured, table in (
        ("tools", spec.tools, TOOL_CAPABLE),
        ("reasoning", spec.reasoning, REASONING_CAPABLE),
    ):
        if configured and _capable_key(spec) not in table:
            kind = spec.provider + (f" family {spec.family!r}" if spec.provider == BEDROCK else "")
            problems.append(f"{where}.{key}: {kind} cannot carry {key}")


ATTACHMENT_KINDS: Final = ("image", "document")


def attachment_kinds(spec: ModelSpec) -> tuple[str, ...]:
    """What a model's wire format can carry besides text (lambdas.providers.attachments renders it)."""
    if spec.provider == BEDROCK_CONVERSE or (spec.provider == BEDROCK and spec.family in (ANTHROPIC_MESSAGES, NOVA)):
        return ATTACHMENT_KINDS
    if spec.provider == OPENAI:
        return ("image",)
    return ()


def _attachments(spec: ModelSpec, value: Any, where: str, problems: list[str]) -> ModelSpec:
    """`attachments` as configured, else the default: everything Converse, Anthropic Messages and Nova carry; none
    for OpenAI-compatible servers, whose models see images only when they are vision models (opt in: ["image"])."""
    possible = attachment_kinds(spec)
    if value is None:
        return replace(spec, attachments=() if spec.provider == OPENAI else possible)
    if not isinstance(value, list) or not all(isinstance(kind, str) for kind in value):
        problems.append(f"{where}.attachments: a list of {', '.join(ATTACHMENT_KINDS)}, got {value!r}")
        return spec
    unknown = [kind for kind in value if kind not in possible]
    if unknown:
        problems.append(
            f"{where}.attachments: {', '.join(map(repr, unknown))} cannot be sent to this model's wire format "
            f"(it takes: {', '.join(possible) or 'none'})"
        )
        return spec
    return replace(spec, attachments=tuple(kind for kind in ATTACHMENT_KINDS if kind in value))


def _check_bedrock(spec: ModelSpec, where: str, problems: list[str]) -> ModelSpec:
    if not spec.model_id:
        problems.append(f"{where}.modelId: required for provider 'bedrock'")
        return spec
    if spec.family is not None:
        if spec.family not in FAMILIES:
            problems.append(f"{where}.family: {spec.family!r} is not one of {', '.join(FAMILIES)}")
        return spec
    family = family_for_model_id(spec.model_id)
    if family is None:
        problems.append(
            f"{where}.family: cannot tell the family of {spec.model_id!r}; set 'family' to one of "
            f"{', '.join(FAMILIES)} (or use provider 'bedrock-converse')"
        )
        return spec
    return replace(spec, family=family)


def _check_converse(spec: ModelSpec, where: str, problems: list[str]) -> ModelSpec:
    if not spec.model_id:
        problems.append(f"{where}.modelId: required for provider 'bedrock-converse'")
    return spec


def _check_sagemaker(spec: ModelSpec, where: str, problems: list[str]) -> ModelSpec:
    if not spec.endpoint_name:
        problems.append(f"{where}.endpointName: required for provider 'sagemaker'")
    elif not _ENDPOINT_NAME.match(spec.endpoint_name):
        problems.append(
            f"{where}.endpointName: {spec.endpoint_name!r} is not a SageMaker endpoint name "
            "(1-63 letters, digits and '-')"
        )
    if spec.format not in SAGEMAKER_FORMATS:
        problems.append(
            f"{where}.format: {'required' if spec.format is None else repr(spec.format) + ' is'} "
            f"one of {', '.join(SAGEMAKER_FORMATS)}"
        )
    if spec.template is None:
        return replace(spec, template=DEFAULT_SAGEMAKER_TEMPLATE)
    if spec.template not in PROMPT_TEMPLATES:
        problems.append(f"{where}.template: {spec.template!r} is not one of {', '.join(PROMPT_TEMPLATES)}")
    return spec


def _check_openai(spec: ModelSpec, where: str, problems: list[str]) -> ModelSpec:
    if not spec.base_url:
        problems.append(f"{where}.baseUrl: required for provider 'openai' (e.g. https://api.openai.com/v1)")
    elif not re.match(r"^https?://[^/\s]+", spec.base_url):
        problems.append(f"{where}.baseUrl: {spec.base_url!r} is not an http(s) URL")
    if not spec.model:
        problems.append(f"{where}.model: required for provider 'openai' (the server's model name)")
    sources = [
        k
        for k, v in (
            ("apiKeySecretArn", spec.api_key_secret_arn),
            ("apiKeyParameter", spec.api_key_parameter),
            ("apiKeyEnv", spec.api_key_env),
        )
        if v
    ]
    if len(sources) > 1:
        problems.append(f"{where}: at most one API key source, got {', '.join(sources)}")
    if spec.api_key_secret_arn and not _SECRET_ARN.match(spec.api_key_secret_arn):
        problems.append(f"{where}.apiKeySecretArn: {spec.api_key_secret_arn!r} is not a Secrets Manager secret ARN")
    if spec.api_key_parameter and not _PARAMETER.match(spec.api_key_parameter):
        problems.append(f"{where}.apiKeyParameter: {spec.api_key_parameter!r} is not an SSM parameter name or ARN")
    if spec.api_key_env and not _ENV_NAME.match(spec.api_key_env):
        problems.append(f"{where}.apiKeyEnv: {spec.api_key_env!r} is not an environment variable name")
    if spec.base_url:
        return replace(spec, base_url=spec.base_url.rstrip("/"))
    return spec


def _string(entry: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key}: must be a non-empty string, got {value!r}")
        return None
    return value.strip()


def _max_tokens(entry: Mapping[str, Any], where: str, problems: list[str]) -> int | None:
    value = entry.get("maxTokensLimit")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS_CEILING:
        problems.append(f"{where}.maxTokensLimit: must be an integer between 1 and {MAX_TOKENS_CEILING}, got {value!r}")
        return None
    return value
