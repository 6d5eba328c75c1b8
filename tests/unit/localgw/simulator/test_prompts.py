"""Prompt templates read back into conversations, per vendor template."""

from __future__ import annotations

import pytest

from localgw.simulator import SimMessage
from localgw.simulator.prompts import (
    PromptError,
    parse_any_prompt,
    parse_chat_prompt,
    parse_claude_text,
    parse_inst,
    parse_llama3,
    parse_titan,
)

THREE_TURNS = (
    SimMessage("user", "Hello there"),
    SimMessage("assistant", "Hi! How can I help?"),
    SimMessage("user", "Tell me about relays"),
)


def test_claude_text_turns_and_system_prompt() -> None:
    prompt = (
        "Be brief.\n\nHuman: Hello there\n\nAssistant: Hi! How can I help?\n\nHuman: Tell me about relays\n\nAssistant:"
    )
    assert parse_claude_text(prompt) == ("Be brief.", THREE_TURNS)


def test_claude_text_keeps_an_assistant_prefill() -> None:
    system, messages = parse_claude_text("\n\nHuman: Name a colour\n\nAssistant: The colour is")
    assert system is None
    assert messages[-1] == SimMessage("assistant", "The colour is")


@pytest.mark.parametrize(
    "prompt, problem",
    [
        ("Human: hi\n\nAssistant:", "must start"),
        ("\n\nHuman: hi", "must end"),
    ],
)
def test_claude_text_refuses_prompts_bedrock_refuses(prompt: str, problem: str) -> None:
    with pytest.raises(PromptError, match=problem):
        parse_claude_text(prompt)


def test_llama3_template_with_system_and_history() -> None:
    prompt = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHi! How can I help?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nTell me about relays<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert parse_llama3(prompt) == ("Be brief.", THREE_TURNS)


def test_llama3_template_tolerates_the_aws_samples_layout() -> None:
    # AWS's examples put newlines around every special token.
    prompt = (
        "\n<|begin_of_text|>\n<|start_header_id|>user<|end_header_id|>\nTell me about relays\n<|eot_id|>\n"
        "<|start_header_id|>assistant<|end_header_id|>\n"
    )
    assert parse_chat_prompt(prompt) == (None, (SimMessage("user", "Tell me about relays"),))


def test_llama2_inst_template_with_system_block() -> None:
    prompt = (
        "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHello there [/INST] Hi! How can I help? </s>"
        "<s>[INST] Tell me about relays [/INST]"
    )
    assert parse_inst(prompt) == ("Be brief.", THREE_TURNS)


def test_mistral_template() -> None:
    prompt = "<s>[INST] Hello there [/INST] Hi! How can I help?</s>[INST]Tell me about relays[/INST]"
    assert parse_chat_prompt(prompt) == (None, THREE_TURNS)


def test_titan_template_with_an_instruction_before_the_turns() -> None:
    prompt = "Be brief.\nUser: Hello there\nBot: Hi! How can I help?\nUser: Tell me about relays\nBot:"
    assert parse_titan(prompt) == ("Be brief.", THREE_TURNS)


@pytest.mark.parametrize("parse", [parse_titan, parse_chat_prompt])
def test_plain_text_is_one_user_message(parse) -> None:
    assert parse("  Tell me about relays \n") == (None, (SimMessage("user", "Tell me about relays"),))


def test_inst_without_turns_is_refused() -> None:
    with pytest.raises(PromptError):
        parse_inst("<s> no instruction here")


def test_mistral_has_no_system_turn_so_a_folded_system_prompt_is_user_text() -> None:
    # Mistral's template has no system role; a provider that leads the first user turn with the system text
    # makes it part of that turn, and the simulator cannot tell it apart.
    prompt = "<s>[INST] Be brief.\n\nHi [/INST] Hello!</s>[INST] Capital of France? [/INST]"
    assert parse_chat_prompt(prompt) == (
        None,
        (
            SimMessage("user", "Be brief.\n\nHi"),
            SimMessage("assistant", "Hello!"),
            SimMessage("user", "Capital of France?"),
        ),
    )


@pytest.mark.parametrize(
    "prompt",
    [
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHi! How can I help?<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nTell me about relays<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "Be brief.\n\nHuman: Hello there\n\nAssistant: Hi! How can I help?"
        "\n\nHuman: Tell me about relays\n\nAssistant:",
        "Be brief.\nUser: Hello there\nBot: Hi! How can I help?\nUser: Tell me about relays\nBot:",
    ],
    ids=["llama3", "claude-text", "titan"],
)
def test_sagemaker_prompts_are_read_in_whichever_template_they_use(prompt: str) -> None:
    assert parse_any_prompt(prompt) == ("Be brief.", THREE_TURNS)


def test_sagemaker_plain_prompt_mentioning_roles_stays_one_message() -> None:
    prompt = "Explain what Human: and Bot: prefixes mean"
    assert parse_any_prompt(prompt) == (None, (SimMessage("user", prompt),))
