"""Bedrock InvokeModelWithResponseStream and ConverseStream through the real boto3 client and real event-stream
bytes served from 127.0.0.1: what botocore raises or yields is exactly what the providers see on AWS."""

from __future__ import annotations

from contextlib import closing

import pytest

from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.bedrock_converse import BedrockConverseProvider
from lambdas.providers.bedrock_invoke import BedrockInvokeProvider
from lambdas.providers.events import Start, TextDelta
from lambdas.providers.formats import CODECS
from localgw.eventstream import error_message, exception_message
from tests.fixtures.providers.support import (
    Reply,
    UpstreamServer,
    answer_of,
    aws_client,
    aws_error_reply,
    bedrock_chunk,
    converse_event,
    eventstream_reply,
    expected_answer,
    fixture,
    fixture_names,
)

REQUEST = ModelRequest((Message("user", "Hi"),), max_tokens=64, system="Be brief.")
LLAMA = "us.meta.llama3-3-70b-instruct-v1:0"
NOVA = "us.amazon.nova-lite-v1:0"
TEXT_CHUNKS = [
    {"generation": "Hello", "prompt_token_count": 5, "generation_token_count": 1, "stop_reason": None},
    {"generation": " again", "prompt_token_count": None, "generation_token_count": 2, "stop_reason": None},
]


def _invoke(server: UpstreamServer, family: str = "llama3", model_id: str = LLAMA) -> BedrockInvokeProvider:
    return BedrockInvokeProvider(aws_client("bedrock-runtime", server.url), model_id, CODECS[family])


def _converse(server: UpstreamServer) -> BedrockConverseProvider:
    return BedrockConverseProvider(aws_client("bedrock-runtime", server.url), NOVA)


@pytest.mark.parametrize("name", fixture_names("bedrock-invoke"))
def test_invoke_fixture_through_boto3(name: str) -> None:
    data = fixture(name)
    reply = eventstream_reply(map(bedrock_chunk, data["chunks"]), **{"X-Amzn-Bedrock-Content-Type": "application/json"})
    with UpstreamServer(reply) as server:
        answer = answer_of(_invoke(server, data["codec"], "some-model").stream(REQUEST))
    assert answer == expected_answer(data)


def test_invoke_request_reaches_bedrock_as_documented() -> None:
    with UpstreamServer(eventstream_reply(map(bedrock_chunk, fixture("bedrock-llama3")["chunks"]))) as server:
        answer_of(_invoke(server).stream(REQUEST))
    (request,) = server.requests
    assert request.path == "/model/us.meta.llama3-3-70b-instruct-v1%3A0/invoke-with-response-stream"
    assert request.json() == CODECS["llama3"]().body(REQUEST)


@pytest.mark.parametrize("name", fixture_names("converse"))
def test_converse_fixture_through_boto3(name: str) -> None:
    data = fixture(name)
    with UpstreamServer(eventstream_reply(map(converse_event, data["events"]))) as server:
        answer = answer_of(_converse(server).stream(REQUEST))
    assert answer == expected_answer(data)
    (request,) = server.requests
    assert request.path == "/model/us.amazon.nova-lite-v1%3A0/converse-stream"
    assert request.json() == {
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 64},
    }


def test_converse_stops_at_stream_end_when_no_metadata_follows() -> None:
    events = fixture("converse")["events"][:-1]
    with UpstreamServer(eventstream_reply(map(converse_event, events))) as server:
        answer = answer_of(_converse(server).stream(REQUEST))
    assert (answer.text, answer.stop.reason, answer.stop.output_tokens) == ("Hello, world", "end_turn", None)


PRE_STREAM = [
    pytest.param(429, "ThrottlingException", "throttled", id="429-throttled"),
    pytest.param(400, "ValidationException", "validation", id="400-validation"),
    pytest.param(403, "AccessDeniedException", "access_denied", id="403-access-denied"),
    pytest.param(424, "ModelErrorException", "model_error", id="424-model-error"),
    pytest.param(408, "ModelTimeoutException", "unavailable", id="408-model-timeout"),
    pytest.param(503, "ServiceUnavailableException", "unavailable", id="503-unavailable"),
]


@pytest.mark.parametrize(("status", "code", "kind"), PRE_STREAM)
@pytest.mark.parametrize("provider", ["invoke", "converse"])
def test_pre_stream_errors(provider: str, status: int, code: str, kind: str) -> None:
    reply = aws_error_reply(status, code, "Too many requests, please wait before trying again.")
    with UpstreamServer(reply) as server:
        upstream = _invoke(server) if provider == "invoke" else _converse(server)
        answer = answer_of(upstream.stream(REQUEST))
    assert not answer.started
    assert answer.error == (kind, code)
    assert answer.error_message == "Too many requests, please wait before trying again."


IN_STREAM = [
    pytest.param("modelStreamErrorException", "model_error", id="model-stream-error"),
    pytest.param("throttlingException", "throttled", id="throttling"),
    pytest.param("validationException", "validation", id="validation"),
    pytest.param("internalServerException", "unavailable", id="internal-server"),
    pytest.param("serviceUnavailableException", "unavailable", id="service-unavailable"),
]


@pytest.mark.parametrize(("code", "kind"), IN_STREAM)
def test_in_stream_errors_of_invoke_keep_the_text_already_sent(code: str, kind: str) -> None:
    frames = [*map(bedrock_chunk, TEXT_CHUNKS), exception_message(code, "The model failed mid-answer.")]
    with UpstreamServer(eventstream_reply(frames)) as server:
        answer = answer_of(_invoke(server).stream(REQUEST))
    assert answer.text == "Hello again"
    assert answer.error == (kind, code)
    assert answer.error_message == "The model failed mid-answer."


@pytest.mark.parametrize(("code", "kind"), IN_STREAM)
def test_in_stream_errors_of_converse(code: str, kind: str) -> None:
    events = fixture("converse")["events"][:5]
    frames = [*map(converse_event, events), exception_message(code, "Stream failed.")]
    with UpstreamServer(eventstream_reply(frames)) as server:
        answer = answer_of(_converse(server).stream(REQUEST))
    assert (answer.text, answer.error) == ("Hello", (kind, code))


def test_unmodeled_stream_error_is_internal() -> None:
    frames = [bedrock_chunk(TEXT_CHUNKS[0]), error_message("InternalFailure", "boom")]
    with UpstreamServer(eventstream_reply(frames)) as server:
        answer = answer_of(_invoke(server).stream(REQUEST))
    assert answer.error[0] == "unavailable"


@pytest.mark.parametrize("provider", ["invoke", "converse"])
def test_connection_dropped_mid_stream_is_unavailable(provider: str) -> None:
    frames = (
        [bedrock_chunk(TEXT_CHUNKS[0])]
        if provider == "invoke"
        else [converse_event(e) for e in fixture("converse")["events"][:5]]
    )
    with UpstreamServer(eventstream_reply(frames, ending="drop")) as server:
        upstream = _invoke(server) if provider == "invoke" else _converse(server)
        answer = answer_of(upstream.stream(REQUEST))
    assert answer.started
    assert answer.error[0] == "unavailable"


@pytest.mark.parametrize("provider", ["invoke", "converse"])
def test_stream_that_ends_without_a_stop_is_unavailable(provider: str) -> None:
    frames = (
        [bedrock_chunk(TEXT_CHUNKS[0])]
        if provider == "invoke"
        else [converse_event(e) for e in fixture("converse")["events"][:5]]
    )
    with UpstreamServer(eventstream_reply(frames)) as server:
        upstream = _invoke(server) if provider == "invoke" else _converse(server)
        answer = answer_of(upstream.stream(REQUEST))
    assert answer.error == ("unavailable", None)


def test_unreachable_endpoint_is_unavailable() -> None:
    with UpstreamServer(Reply()) as server:
        url = server.url
    # The server is gone: nothing listens on its port any more.
    answer = answer_of(
        BedrockInvokeProvider(aws_client("bedrock-runtime", url), LLAMA, CODECS["llama3"]).stream(REQUEST)
    )
    assert not answer.started
    assert answer.error[0] == "unavailable"


@pytest.mark.parametrize("provider", ["invoke", "converse"])
def test_closing_the_generator_closes_the_upstream_connection(provider: str) -> None:
    frames = (
        [bedrock_chunk(TEXT_CHUNKS[0])]
        if provider == "invoke"
        else [converse_event(e) for e in fixture("converse")["events"][:5]]
    )
    with UpstreamServer(eventstream_reply(frames, ending="hold")) as server:
        upstream = _invoke(server) if provider == "invoke" else _converse(server)
        with closing(upstream.stream(REQUEST)) as events:
            assert isinstance(next(events), Start)
            # GIVEN the first text arrived and the upstream is still generating
            while not isinstance(event := next(events), TextDelta):
                pass
            assert event.text
        # WHEN the consumer closes the stream early THEN the upstream sees its connection closed
        assert server.client_closed_early.wait(timeout=10)


def test_chunk_that_is_not_json_is_internal() -> None:
    from localgw.eventstream import event_message, json_bytes

    frame = event_message("chunk", json_bytes({"bytes": "bm90IGpzb24="}))  # base64("not json")
    with UpstreamServer(eventstream_reply([frame])) as server:
        answer = answer_of(_invoke(server).stream(REQUEST))
    assert answer.error[0] == "internal"
