"""Golden vectors: every recorded-shape fixture, fed through its codec alone, gives the answer it promises.

The same fixtures go through the real boto3 clients and HTTP in test_providers_bedrock/sagemaker/openai.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.providers.events import TERMINAL, Event, Start
from lambdas.providers.formats import CODECS
from lambdas.providers.formats.converse_events import ConverseEvents
from lambdas.providers.formats.openai_chat import ChatCompletionChunks
from lambdas.providers.sagemaker_formats import DECODERS
from lambdas.providers.streams import LineBuffer, SseDecoder
from tests.fixtures.providers.support import answer_of, expected_answer, fixture, fixture_names, line_body


def _until_terminal(events: Iterator[Event]) -> Iterator[Event]:
    # Providers stop reading at the first terminal event; so does this harness.
    yield Start("model")
    for event in events:
        yield event
        if isinstance(event, TERMINAL):
            return


def _invoke_events(data: dict) -> Iterator[Event]:
    codec = CODECS[data["codec"]]()
    for chunk in data["chunks"]:
        yield from codec.decode(chunk)
    yield from getattr(codec, "end", tuple)()


def _converse_events(data: dict) -> Iterator[Event]:
    decoder = ConverseEvents()
    for event in data["events"]:
        yield from decoder.decode(event)
    yield from decoder.end()


def _lines(data: dict) -> list[str]:
    buffer = LineBuffer()
    return buffer.feed(line_body(data)) + buffer.end()


def _sagemaker_events(data: dict) -> Iterator[Event]:
    decoder = DECODERS[data["format"]]()
    for line in _lines(data):
        yield from decoder.line(line)
    yield from decoder.end()


def _openai_events(data: dict) -> Iterator[Event]:
    sse = SseDecoder()
    chunks = ChatCompletionChunks()
    for line in _lines(data):
        event = sse.feed(line)
        if event is not None:
            yield from chunks.data(event)
    yield from chunks.end()


_DECODE = {
    "bedrock-invoke": _invoke_events,
    "converse": _converse_events,
    "sagemaker": _sagemaker_events,
    "openai": _openai_events,
}


@pytest.mark.parametrize("name", [n for transport in _DECODE for n in fixture_names(transport)])
def test_fixture_decodes_to_its_recorded_answer(name: str) -> None:
    data = fixture(name)
    answer = answer_of(_until_terminal(_DECODE[data["transport"]](data)))
    assert answer == expected_answer(data)


def test_every_invoke_family_has_a_fixture() -> None:
    covered = {fixture(name)["codec"] for name in fixture_names("bedrock-invoke")}
    assert covered == set(CODECS)


def test_every_sagemaker_format_has_a_fixture() -> None:
    covered = {fixture(name)["format"] for name in fixture_names("sagemaker")}
    assert covered == set(DECODERS)


def test_cumulative_counts_are_taken_not_summed() -> None:
    # GIVEN Llama chunks whose generation_token_count rises 1, 3, 7 and no invocation metrics
    codec = CODECS["llama3"]()
    chunks = [
        {"generation": "a", "prompt_token_count": 4, "generation_token_count": 1, "stop_reason": None},
        {"generation": "b", "prompt_token_count": None, "generation_token_count": 3, "stop_reason": None},
        {"generation": "c", "prompt_token_count": None, "generation_token_count": 7, "stop_reason": "stop"},
    ]
    # WHEN decoded
    events = [e for chunk in chunks for e in codec.decode(chunk)]
    # THEN the usage is the last count, not 11
    assert events[-1].output_tokens == 7
    assert events[-1].input_tokens == 4


def test_claude_text_reports_a_callers_stop_sequence_as_such() -> None:
    from lambdas.providers.base import Message, ModelRequest

    codec = CODECS["anthropic-text"]()
    codec.body(ModelRequest((Message("user", "count"),), 10, stop_sequences=("5",)))
    (stop,) = [
        e
        for e in codec.decode({"completion": " 1 2 3 4 ", "stop_reason": "stop_sequence", "stop": "5"})
        if type(e).__name__ == "Stop"
    ]
    assert stop.reason == "stop_sequence"


def test_converse_stop_waits_for_metadata() -> None:
    decoder = ConverseEvents()
    assert list(decoder.decode({"messageStop": {"stopReason": "end_turn"}})) == []
    (stop,) = decoder.decode({"metadata": {"usage": {"inputTokens": 3, "outputTokens": 2}, "metrics": {}}})
    assert (stop.reason, stop.input_tokens, stop.output_tokens) == ("end_turn", 3, 2)
    assert list(decoder.end()) == []
