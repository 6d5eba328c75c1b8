"""The local model catalogue: one alias per provider and wire format, every one served by the simulator on
localgw's own port, so `make dev` can try each upstream the relay speaks without an AWS account or an API key.

| alias            | provider           | wire format                      | upstream name                         |
| ---------------- | ------------------ | -------------------------------- | ------------------------------------- |
| `claude` default | `bedrock`          | Anthropic Messages               | cdk.json `modelId` (the stack's)      |
| `converse`       | `bedrock-converse` | ConverseStream                   | cdk.json `modelId`                    |
| `claude-v2`      | `bedrock`          | Claude text completions          | `anthropic.claude-v2:1`               |
| `llama`          | `bedrock`          | Llama 3                          | `us.meta.llama3-3-70b-instruct-v1:0`  |
| `mistral`        | `bedrock`          | Mistral                          | `mistral.mistral-7b-instruct-v0:2`    |
| `titan`          | `bedrock`          | Titan Text                       | `amazon.titan-text-express-v1`        |
| `nova`           | `bedrock`          | Nova (invoke)                    | `us.amazon.nova-lite-v1:0`            |
| `command-r`      | `bedrock`          | Cohere Command R                 | `cohere.command-r-v1:0`               |
| `sm-lmi`         | `sagemaker`        | LMI rolling batch, Llama 3 chat  | endpoint `llama3-8b-instruct-lmi`     |
| `sm-lmi-outputs` | `sagemaker`        | older LMI `outputs`, Llama 3     | endpoint `llama3-8b-instruct-lmi-outputs` |
| `sm-tgi`         | `sagemaker`        | TGI, Mistral chat template       | endpoint `mistral-7b-instruct-tgi`    |
| `openai`         | `openai`           | chat completions (SSE)           | `gpt-4o-mini` at `{gateway}/openai/v1`|

The simulator picks the SageMaker dialect from the endpoint name (`tgi`, `lmi-outputs`, else LMI), so each
endpoint name matches its `format`. The catalogue replaces the single cdk.json model only when localgw serves the
simulated upstream and the user configured no catalogue of their own (`models` in cdk.json or `-c models=...`):
with `--upstream bedrock` the real model(s) you would deploy apply, untouched. docs/localgw.md documents all this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lambdas import env_vars
from lambdas.catalogue import (
    ANTHROPIC_MESSAGES,
    BEDROCK,
    BEDROCK_CONVERSE,
    LMI,
    LMI_OUTPUTS,
    MISTRAL,
    OPENAI,
    SAGEMAKER,
    TGI,
    Catalogue,
    CatalogueError,
    load_catalogue,
    parse_catalogue,
    to_env_value,
)
from stacks.config import RelayConfig

DEFAULT_ALIAS: Final = "claude"
OPENAI_KEY_ENV: Final = "LOCALGW_OPENAI_API_KEY"
"""Where the `openai` alias reads its key (`apiKeyEnv`). The simulator wants a Bearer header, whatever its value."""
DUMMY_OPENAI_KEY: Final = "localgw-simulator"
OPENAI_PATH: Final = "/openai/v1"
"""The simulator's OpenAI-compatible API root on the gateway's port (`/chat/completions` is appended)."""


def local_models(gateway_url: str, model_id: str) -> dict[str, Any]:
    """The local catalogue in its `RELAY_MODELS` JSON form. `model_id`: the stack's own (RelayConfig.model_id), so
    the default alias is exactly what a stack without a catalogue serves: that id as Anthropic Messages."""
    return {
        "default": DEFAULT_ALIAS,
        "models": {
            DEFAULT_ALIAS: {"provider": BEDROCK, "modelId": model_id, "family": ANTHROPIC_MESSAGES},
            "converse": {"provider": BEDROCK_CONVERSE, "modelId": model_id},
            "claude-v2": {"provider": BEDROCK, "modelId": "anthropic.claude-v2:1"},
            "llama": {"provider": BEDROCK, "modelId": "us.meta.llama3-3-70b-instruct-v1:0"},
            "mistral": {"provider": BEDROCK, "modelId": "mistral.mistral-7b-instruct-v0:2"},
            "titan": {"provider": BEDROCK, "modelId": "amazon.titan-text-express-v1"},
            "nova": {"provider": BEDROCK, "modelId": "us.amazon.nova-lite-v1:0"},
            "command-r": {"provider": BEDROCK, "modelId": "cohere.command-r-v1:0"},
            "sm-lmi": {"provider": SAGEMAKER, "endpointName": "llama3-8b-instruct-lmi", "format": LMI},
            "sm-lmi-outputs": {
                "provider": SAGEMAKER,
                "endpointName": "llama3-8b-instruct-lmi-outputs",
                "format": LMI_OUTPUTS,
            },
            "sm-tgi": {
                "provider": SAGEMAKER,
                "endpointName": "mistral-7b-instruct-tgi",
                "format": TGI,
                "template": MISTRAL,
            },
            "openai": {
                "provider": OPENAI,
                "baseUrl": gateway_url.rstrip("/") + OPENAI_PATH,
                "model": "gpt-4o-mini",
                "apiKeyEnv": OPENAI_KEY_ENV,
                "attachments": ["image"],  # the simulator reads data-URL images, as a vision model does
                # The simulator streams reasoning_content as reasoning servers do (vLLM, DeepSeek, Ollama).
                "reasoning": True,
            },
        },
    }


def local_catalogue(gateway_url: str, model_id: str) -> Catalogue:
    return parse_catalogue(local_models(gateway_url, model_id))


def has_own_catalogue(config: RelayConfig) -> bool:
    """Whether the user configured a catalogue (cdk.json `models` or `-c models=...`); `-c models=` (empty)
    counts as none, as it does for the stack."""
    return bool(config.models and config.models.strip())


def catalogue_environment(
    config: RelayConfig, *, upstream: str, gateway_url: str, current: Mapping[str, str]
) -> dict[str, str]:
    """`RELAY_MODELS` (and the simulator's dummy OpenAI key) for the handlers, or nothing when the catalogue the
    stack would deploy applies: with real Bedrock, or when the user configured their own."""
    if upstream != "simulated" or has_own_catalogue(config):
        return {}
    env = {env_vars.MODELS: to_env_value(local_catalogue(gateway_url, config.model_id))}
    # A key the user exported (to try another value) is kept, like real AWS credentials are.
    if not current.get(OPENAI_KEY_ENV):
        env[OPENAI_KEY_ENV] = DUMMY_OPENAI_KEY
    return env


def served_catalogue(environment: Mapping[str, str]) -> Catalogue | None:
    """The catalogue the handlers will read from `environment`, or None when it is invalid (the first request
    then says so)."""
    try:
        return load_catalogue(environment)
    except CatalogueError:
        return None


def banner_line(catalogue: Catalogue | None) -> str:
    """One line for the start banner: the aliases, and how to list and pick them."""
    if catalogue is None:
        return "none (the model catalogue is invalid: every sendtext will fail)"
    aliases = ", ".join(f"{alias} (default)" if alias == catalogue.default else alias for alias in catalogue.aliases)
    return f'{aliases} · list: {{"action": "models"}}, pick: {{"action": "sendtext", "model": "<alias>", ...}}'
