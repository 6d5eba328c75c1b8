"""The simulator's script and directives: what reply a conversation gets, how it is chunked and paced."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localgw.simulator import DirectiveError, SimConversation, SimStopReason, plan_reply
from localgw.simulator.directives import Directives, extract
from localgw.simulator.script import DEFAULT_RATE, DEFAULT_TOKENS, DEFAULT_TTFT_MS, MAX_CHUNK_WORDS

MULTI_TURN = SimConversation.of(
    ("user", "Hello there"),
    ("assistant", "Hi! How can I help?"),
    ("user", "Tell me   about\nrelays"),
)


def test_reply_echoes_the_turn_number_and_the_last_user_text() -> None:
    plan = plan_reply(MULTI_TURN)
    assert plan.turn == 2
    assert plan.text.startswith("Turn 2. You said: Tell me about relays ")
    assert plan.last_user_text == "Tell me about relays"


def test_default_reply_is_default_tokens_words_ending_normally() -> None:
    plan = plan_reply(MULTI_TURN)
    assert len(plan.text.split()) == plan.output_tokens == DEFAULT_TOKENS
    assert plan.stop_reason is SimStopReason.END_TURN


def test_same_turn_and_text_give_the_same_reply_whatever_else_differs() -> None:
    # Formats that cannot carry a system prompt or earlier turns verbatim must still produce the same text.
    base = plan_reply(MULTI_TURN)
    with_system = plan_reply(SimConversation(MULTI_TURN.messages, system="Be brief."))
    other_history = plan_reply(SimConversation.of(("user", "Something else"), ("user", "Tell me about relays")))
    assert with_system.text == base.text
    assert other_history.text == base.text
    assert [c.text for c in with_system.chunks] == [c.text for c in base.chunks]


def test_different_last_user_text_changes_the_filler() -> None:
    first = plan_reply(SimConversation.of(("user", "alpha")))
    second = plan_reply(SimConversation.of(("user", "beta")))
    assert first.text.split()[5:] != second.text.split()[5:]


def test_chunks_are_one_to_three_words_and_concatenate_to_the_reply() -> None:
    plan = plan_reply(MULTI_TURN)
    assert "".join(chunk.text for chunk in plan.chunks) == plan.text
    assert all(1 <= chunk.words <= MAX_CHUNK_WORDS for chunk in plan.chunks)
    assert all(chunk.text.startswith(" ") for chunk in plan.chunks[1:])
    assert {chunk.words for chunk in plan.chunks} == {1, 2, 3}


def test_input_tokens_count_message_words_without_directives_or_system() -> None:
    conversation = SimConversation.of(
        ("user", "one two [[sim tokens=10]] three"),
        ("assistant", "four"),
        ("user", "five six"),
        system="not counted at all",
    )
    assert plan_reply(conversation).input_tokens == 6


def test_tokens_directive_sets_the_whole_reply_length() -> None:
    plan = plan_reply(SimConversation.of(("user", "hi [[sim tokens=9]]")))
    assert plan.output_tokens == 9
    assert plan.text.startswith("Turn 1. You said: hi ")


def test_an_echo_longer_than_tokens_is_sent_whole() -> None:
    words = " ".join(f"w{i}" for i in range(30))
    plan = plan_reply(SimConversation.of(("user", f"{words} [[sim tokens=5]]")))
    assert plan.text == f"Turn 1. You said: {words}"
    assert plan.stop_reason is SimStopReason.END_TURN


def test_max_tokens_cuts_the_reply_and_changes_the_stop_reason() -> None:
    full = plan_reply(MULTI_TURN)
    capped = plan_reply(SimConversation(MULTI_TURN.messages, max_tokens=7))
    assert capped.text == " ".join(full.text.split()[:7])
    assert capped.output_tokens == 7
    assert capped.stop_reason is SimStopReason.MAX_TOKENS
    assert [c.text for c in capped.chunks[:-1]] == [c.text for c in full.chunks[: len(capped.chunks) - 1]]


def test_max_tokens_equal_to_the_reply_length_is_a_normal_end() -> None:
    plan = plan_reply(SimConversation(MULTI_TURN.messages, max_tokens=DEFAULT_TOKENS))
    assert plan.stop_reason is SimStopReason.END_TURN


def test_default_pacing_plan_is_ttft_then_default_rate() -> None:
    plan = plan_reply(MULTI_TURN)
    assert plan.chunks[0].at == pytest.approx(DEFAULT_TTFT_MS / 1000)
    words_after_first = plan.output_tokens - plan.chunks[0].words
    assert plan.chunks[-1].at == pytest.approx(DEFAULT_TTFT_MS / 1000 + words_after_first / DEFAULT_RATE)
    times = [chunk.at for chunk in plan.chunks]
    assert times == sorted(times)


def test_pacing_directives_change_the_schedule() -> None:
    plan = plan_reply(SimConversation.of(("user", "hi [[sim rate=10 ttft=1500]]")))
    assert plan.chunks[0].at == pytest.approx(1.5)
    assert plan.chunks[1].at == pytest.approx(1.5 + plan.chunks[1].words / 10)


@pytest.mark.parametrize("rate", ["inf", "0"])
def test_unpaced_rate_puts_every_chunk_at_ttft(rate: str) -> None:
    plan = plan_reply(SimConversation.of(("user", f"hi [[sim rate={rate} ttft=0]]")))
    assert {chunk.at for chunk in plan.chunks} == {0.0}


def test_fail_after_limits_the_chunks_sent_and_times_the_failure() -> None:
    plan = plan_reply(SimConversation.of(("user", "hi [[sim fail_after=3 rate=10]]")))
    assert plan.fails
    assert len(plan.chunks_to_send) == 3
    assert plan.end_at == plan.chunks[3].at
    beyond = plan_reply(SimConversation.of(("user", "hi [[sim fail_after=999 tokens=6]]")))
    assert beyond.chunks_to_send == beyond.chunks
    assert beyond.end_at == beyond.chunks[-1].at


def test_directives_in_the_system_prompt_count_and_later_ones_win() -> None:
    conversation = SimConversation.of(
        ("user", "a [[sim tokens=50 ttft=0]]"), ("user", "b [[sim tokens=20]]"), system="[[sim tokens=99 rate=5]]"
    )
    plan = plan_reply(conversation)
    assert plan.output_tokens == 20
    assert plan.rate == 5
    assert plan.ttft == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[[sim throttle]]", Directives(throttle=0)),
        ("[[sim throttle=2]]", Directives(throttle=2)),
        ("[[sim rate=inf]]", Directives(rate=math.inf)),
        ("[[sim  tokens=3\tfail_after=0 ]]", Directives(tokens=3, fail_after=0)),
        ("[[simulate]] stays text", Directives()),
    ],
)
def test_directive_syntax(text: str, expected: Directives) -> None:
    assert extract(text)[1] == expected


@pytest.mark.parametrize(
    "text, named",
    [
        ("[[sim bogus=1]]", "'bogus'"),
        ("[[sim tokens=abc]]", "tokens=abc"),
        ("[[sim tokens=0]]", "tokens=0"),
        ("[[sim tokens=100001]]", "tokens=100001"),
        ("[[sim rate=-1]]", "rate=-1"),
        ("[[sim ttft=soon]]", "ttft=soon"),
        ("[[sim fail_after=1.5]]", "fail_after=1.5"),
        ("[[sim tokens]]", "'tokens'"),
        ("hello [[sim tokens=3", "[[sim tokens=3"),
    ],
)
def test_malformed_directives_are_refused_naming_the_bad_part(text: str, named: str) -> None:
    with pytest.raises(DirectiveError, match="sim") as caught:
        plan_reply(SimConversation.of(("user", text)))
    assert named in str(caught.value)


# Any text without "[[" (which could open a directive).
plain_text = st.text().map(lambda text: text.replace("[[", ""))


@given(
    history=st.lists(st.tuples(st.sampled_from(["user", "assistant"]), plain_text), max_size=5),
    last=plain_text,
    tokens=st.integers(min_value=1, max_value=200),
    max_tokens=st.none() | st.integers(min_value=1, max_value=300),
)
def test_any_conversation_gets_a_consistent_plan(
    history: list[tuple[str, str]], last: str, tokens: int, max_tokens: int | None
) -> None:
    conversation = SimConversation.of(*history, ("user", f"{last} [[sim tokens={tokens}]]"))
    conversation = SimConversation(conversation.messages, max_tokens=max_tokens)
    plan = plan_reply(conversation)
    assert "".join(chunk.text for chunk in plan.chunks) == plan.text
    assert len(plan.text.split()) == plan.output_tokens == sum(chunk.words for chunk in plan.chunks)
    assert plan.turn == sum(1 for role, _ in history if role == "user") + 1
    if max_tokens is not None:
        assert plan.output_tokens <= max_tokens
    assert plan_reply(conversation) == plan
