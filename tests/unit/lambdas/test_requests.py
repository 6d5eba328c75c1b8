"""Client messages: what each schema accepts, and the field and words a refusal gives back."""

from __future__ import annotations

import json

import pytest

from lambdas.requests import (
    ECHO_CHARS,
    BadRequestError,
    Cancel,
    Conversations,
    History,
    Resume,
    SendText,
    echo,
    parse,
    parse_body,
    parse_sendtext,
)


def refusal(schema, message) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        parse(schema, message)
    return caught.value


def test_a_full_sendtext_is_accepted_and_an_integer_temperature_is_a_float():
    request = parse_sendtext(
        {
            "action": "sendtext",
            "text": "hi",
            "requestId": "r-1_A",
            "system": "be brief",
            "maxTokens": 200,
            "temperature": 1,
            "model": "claude",
            "conversationId": "c1",
        }
    )
    assert request == SendText(
        action="sendtext",
        text="hi",
        requestId="r-1_A",
        system="be brief",
        maxTokens=200,
        temperature=1.0,
        model="claude",
        conversationId="c1",
    )
    assert type(request.temperature) is float


def test_optional_fields_default_to_none_and_conversations_limit_to_20():
    assert parse(SendText, {"action": "sendtext", "text": "hi"}).maxTokens is None
    assert parse(Conversations, {"action": "conversations"}).limit == 20


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ({"action": "sendtext"}, "text", "text: required"),
        ({"action": "sendtext", "text": ""}, "text", "text: expected `str` of length >= 1"),
        ({"action": "sendtext", "text": 5}, "text", "text: expected `str`, got `int`"),
        ({"action": "sendtext", "text": "hi", "maxTokens": 0}, "maxTokens", "maxTokens: expected `int` >= 1"),
        ({"action": "sendtext", "text": "hi", "maxTokens": "5"}, "maxTokens", "got `str`"),
        ({"action": "sendtext", "text": "hi", "maxTokens": True}, "maxTokens", "got `bool`"),
        ({"action": "sendtext", "text": "hi", "maxTokens": 5.0}, "maxTokens", "got `float`"),
        ({"action": "sendtext", "text": "hi", "temperature": 1.5}, "temperature", "expected `float` <= 1.0"),
        ({"action": "sendtext", "text": "hi", "temperature": -0.1}, "temperature", "expected `float` >= 0.0"),
        ({"action": "sendtext", "text": "hi", "requestId": "spaces are bad"}, "requestId", "matching regex"),
        ({"action": "sendtext", "text": "hi", "requestId": "x" * 65}, "requestId", "matching regex"),
        ({"action": "sendtext", "text": "hi", "requestId": "trailing\n"}, "requestId", "matching regex"),
        ({"action": "sendtext", "text": "hi", "maxtokens": 5}, "maxtokens", "maxtokens: unknown field"),
        ({"action": "sendtext", "text": "hi", "system": "s" * 32_001}, "system", "length <= 32000"),
        ({"action": "sendtext", "text": "hi", "model": ""}, "model", "length >= 1"),
        ({"action": "sendtext", "text": "hi", "conversationId": "a/b"}, "conversationId", "matching regex"),
        ({"action": "sendtext", "text": "hi", "system": None, "model": None}, None, None),
    ],
)
def test_each_sendtext_refusal_names_its_field(message, field, words):
    if field is None:
        assert parse(SendText, message).text == "hi"
        return
    error = refusal(SendText, message)
    assert error.field == field
    assert words in str(error)
    assert str(error).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("schema", "message", "field"),
    [
        (Cancel, {"action": "cancel"}, "requestId"),
        (Resume, {"action": "resume", "requestId": "r1"}, "after"),
        (Resume, {"action": "resume", "requestId": "r1", "after": -2}, "after"),
        (History, {"action": "history", "conversationId": ""}, "conversationId"),
        (Conversations, {"action": "conversations", "limit": 51}, "limit"),
        (Conversations, {"action": "conversations", "cursor": ""}, "cursor"),
        (Cancel, {"action": "history", "requestId": "r1"}, "action"),
    ],
)
def test_small_actions_refuse_with_the_field_named(schema, message, field):
    assert refusal(schema, message).field == field


def test_the_request_id_is_echoed_unless_it_is_the_bad_field():
    assert refusal(SendText, {"action": "sendtext", "text": "", "requestId": "r1"}).request_id == "r1"
    assert refusal(SendText, {"action": "sendtext", "text": "hi", "requestId": "r 1"}).request_id is None
    assert refusal(SendText, {"action": "sendtext", "requestId": 7}).request_id is None


def test_configured_limits_are_checked_after_the_schema():
    with pytest.raises(BadRequestError) as caught:
        parse_sendtext({"action": "sendtext", "text": "hi", "maxTokens": 10**6, "requestId": "r1"})
    assert (caught.value.field, caught.value.request_id) == ("maxTokens", "r1")
    with pytest.raises(BadRequestError) as caught:
        parse_sendtext({"action": "sendtext", "text": "x" * 10**6})
    assert caught.value.field == "text"
    assert "at most" in str(caught.value)


@pytest.mark.parametrize("body", [None, "", "not json", "[1]", '"text"', "3"])
def test_a_body_that_is_not_a_json_object_is_refused_without_a_field(body):
    with pytest.raises(BadRequestError) as caught:
        parse_body(body)
    assert caught.value.field is None


def test_parsed_messages_are_immutable():
    request = parse(Cancel, {"action": "cancel", "requestId": "r1"})
    with pytest.raises(AttributeError):
        request.requestId = "r2"  # type: ignore[misc]


# Issue 13: hostile input. Echoes are bounded, deep nesting and lone surrogates are bad requests.


def test_a_huge_unknown_field_is_named_clipped_with_an_ellipsis():
    error = refusal(SendText, {"action": "sendtext", "text": "hi", "f" * 30_000: 1})
    assert error.field == "f" * (ECHO_CHARS - 1) + "…"
    assert str(error) == f"{error.field}: unknown field"


def test_an_invalid_request_id_is_never_echoed_even_when_another_field_is_wrong():
    error = refusal(Cancel, {"action": "cancel", "x": 1, "requestId": "r" * 100_000})
    assert (error.field, error.request_id) == ("x", None)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a" * 10_000, "'" + "a" * 98 + "…"),
        ([1] * 10_000, None),
        ({"k" * 10_000: 1}, None),
        (json.loads("[" * 900 + "]" * 900), "[[[[...]]]]"),
        ("bad \ud800", "'bad \\ud800'"),
    ],
    ids=["long-string", "long-list", "long-key", "deep", "lone-surrogate"],
)
def test_echo_shows_any_value_in_at_most_echo_chars(value, shown):
    echoed = echo(value)
    assert len(echoed) <= ECHO_CHARS
    echoed.encode("utf-8")  # always sendable
    if shown is not None:
        assert echoed == shown


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_a_bad_request_not_a_recursion_error(depth):
    for body in ("[" * depth + "]" * depth, '{"action":"sendtext","x":' + "[" * depth + "]" * depth + "}"):
        with pytest.raises(BadRequestError, match="nests too deeply") as caught:
            parse_body(body)
        assert caught.value.field is None


@pytest.mark.parametrize(
    ("schema", "message", "field"),
    [
        (SendText, {"action": "sendtext", "text": "bad \ud800 x"}, "text"),
        (SendText, {"action": "sendtext", "text": "hi", "system": "\udfff"}, "system"),
        (SendText, {"action": "sendtext", "text": "hi", "model": "m\ud800"}, "model"),
        (SendText, {"action": "sendtext", "text": "hi", "conversationId": "\ud800"}, "conversationId"),
        (Cancel, {"action": "cancel", "requestId": "\ud800"}, "requestId"),
        (Conversations, {"action": "conversations", "cursor": "\udc00"}, "cursor"),
        (SendText, {"action": "sendtext", "text": "hi", "x\ud800": 1}, "x\\ud800"),
    ],
    ids=["text", "system", "model", "conversationId", "requestId", "cursor", "field-name"],
)
def test_a_lone_surrogate_is_a_bad_request_naming_the_field(schema, message, field):
    error = refusal(schema, json.loads(json.dumps(message)))  # as a client sends it: a \\uXXXX escape
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    str(error).encode("utf-8")


def test_a_surrogate_pair_is_one_character_and_accepted():
    assert parse(SendText, json.loads('{"action": "sendtext", "text": "\\ud83d\\ude00"}')).text == "😀"
