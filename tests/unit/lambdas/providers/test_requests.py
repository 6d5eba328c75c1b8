"""What each upstream is sent: the vendors' documented chat templates and request bodies, exactly.

localgw's simulator parses these prompt strings back into turns, so a changed newline is a broken contract.
"""

from __future__ import annotations

import pytest

from lambdas.providers import prompts
from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.bedrock_converse import converse_arguments
from lambdas.providers.formats import CODECS
from lambdas.providers.formats.openai_chat import request_body as openai_body
from lambdas.providers.sagemaker import request_body as sagemaker_body

CHAT = (Message("user", "Hi"), Message("assistant", "Hello!"), Message("user", "Capital of France?"))
FULL = ModelRequest(CHAT, max_tokens=256, system="Be brief.", temperature=0.2, stop_sequences=("END",))
BARE = ModelRequest((Message("user", "Hi"),), max_tokens=64)

PROMPTS = [
    pytest.param(
        prompts.llama3,
        FULL,
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nCapital of France?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        id="llama3-system-multi-turn",
    ),
    pytest.param(
        prompts.llama3,
        BARE,
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        id="llama3-no-system",
    ),
    pytest.param(
        prompts.mistral,
        FULL,
        "<s>[INST] Be brief.\n\nHi [/INST] Hello!</s>[INST] Capital of France? [/INST]",
        id="mistral-system-multi-turn",
    ),
    pytest.param(prompts.mistral, BARE, "<s>[INST] Hi [/INST]", id="mistral-no-system"),
    pytest.param(
        prompts.anthropic_text,
        FULL,
        "Be brief.\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Capital of France?\n\nAssistant:",
        id="claude-text-system-multi-turn",
    ),
    pytest.param(prompts.anthropic_text, BARE, "\n\nHuman: Hi\n\nAssistant:", id="claude-text-no-system"),
    pytest.param(
        prompts.titan_text,
        FULL,
        "Be brief.\nUser: Hi\nBot: Hello!\nUser: Capital of France?\nBot:",
        id="titan-system-multi-turn",
    ),
    pytest.param(prompts.titan_text, BARE, "User: Hi\nBot:", id="titan-no-system"),
]


@pytest.mark.parametrize(("template", "request_", "expected"), PROMPTS)
def test_prompt_template_renders_the_documented_format(template, request_, expected) -> None:
    assert template(request_) == expected


BODIES = [
    pytest.param(
        "anthropic-messages",
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 256,
            "system": "Be brief.",
            "temperature": 0.2,
            "stop_sequences": ["END"],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]},
            ],
        },
        id="anthropic",
    ),
    pytest.param(
        "anthropic-text",
        {
            "prompt": prompts.anthropic_text(FULL),
            "max_tokens_to_sample": 256,
            "temperature": 0.2,
            "stop_sequences": ["END"],
        },
        id="claude-text",
    ),
    pytest.param("llama3", {"prompt": prompts.llama3(FULL), "max_gen_len": 256, "temperature": 0.2}, id="llama3"),
    pytest.param(
        "mistral",
        {"prompt": prompts.mistral(FULL), "max_tokens": 256, "temperature": 0.2, "stop": ["END"]},
        id="mistral",
    ),
    pytest.param(
        "titan-text",
        {
            "inputText": prompts.titan_text(FULL),
            "textGenerationConfig": {"maxTokenCount": 256, "temperature": 0.2, "stopSequences": ["END"]},
        },
        id="titan",
    ),
    pytest.param(
        "nova",
        {
            "schemaVersion": "messages-v1",
            "system": [{"text": "Be brief."}],
            "messages": [
                {"role": "user", "content": [{"text": "Hi"}]},
                {"role": "assistant", "content": [{"text": "Hello!"}]},
                {"role": "user", "content": [{"text": "Capital of France?"}]},
            ],
            "inferenceConfig": {"maxTokens": 256, "temperature": 0.2, "stopSequences": ["END"]},
        },
        id="nova",
    ),
    pytest.param(
        "cohere-command-r",
        {
            "message": "Capital of France?",
            "preamble": "Be brief.",
            "max_tokens": 256,
            "temperature": 0.2,
            "stop_sequences": ["END"],
            "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello!"}],
        },
        id="cohere",
    ),
]


@pytest.mark.parametrize(("family", "expected"), BODIES)
def test_invoke_body_per_family(family: str, expected: dict) -> None:
    assert CODECS[family]().body(FULL) == expected


@pytest.mark.parametrize("family", list(CODECS))
def test_optional_parameters_are_left_out_when_unset(family: str) -> None:
    body = str(CODECS[family]().body(BARE))
    for absent in ("temperature", "stop", "system", "preamble", "Be brief"):
        assert absent not in body


def test_converse_arguments() -> None:
    assert converse_arguments("us.amazon.nova-lite-v1:0", FULL) == {
        "modelId": "us.amazon.nova-lite-v1:0",
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Hi"}]},
            {"role": "assistant", "content": [{"text": "Hello!"}]},
            {"role": "user", "content": [{"text": "Capital of France?"}]},
        ],
        "inferenceConfig": {"maxTokens": 256, "temperature": 0.2, "stopSequences": ["END"]},
    }


def test_sagemaker_body_uses_the_llama3_template_by_default() -> None:
    assert sagemaker_body(FULL) == {
        "inputs": prompts.llama3(FULL),
        "parameters": {"max_new_tokens": 256, "temperature": 0.2, "stop": ["END"], "details": True},
    }


def test_sagemaker_body_with_another_template_and_greedy_decoding() -> None:
    greedy = ModelRequest(CHAT, max_tokens=32, temperature=0.0)
    assert sagemaker_body(greedy, "mistral") == {
        "inputs": prompts.mistral(greedy),
        # TGI and LMI reject temperature 0: it is left out (greedy is their default).
        "parameters": {"max_new_tokens": 32, "details": True},
    }


def test_openai_body() -> None:
    assert openai_body("gpt-4o-mini", FULL) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Capital of France?"},
        ],
        "stream": True,
        "max_tokens": 256,
        "temperature": 0.2,
        "stop": ["END"],
        "stream_options": {"include_usage": True},
    }
