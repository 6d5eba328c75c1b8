"""SageMaker InvokeEndpointWithResponseStream: PayloadParts through the real boto3 client, and the line
reassembly under every cut an endpoint may make (mid-line, mid-UTF-8 sequence, several lines per part)."""

from __future__ import annotations

from contextlib import closing
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.events import Start, TextDelta
from lambdas.providers.sagemaker import SageMakerProvider
from tests.fixtures.providers.support import (
    FakeSageMakerRuntime,
    UpstreamServer,
    answer_of,
    aws_client,
    aws_error_reply,
    eventstream_reply,
    expected_answer,
    fixture,
    fixture_names,
    line_body,
    payload_part,
    sagemaker_exception,
)

REQUEST = ModelRequest((Message("user", "Hi"),), max_tokens=64)
ENDPOINT = "llama3-8b-instruct"


def _provider(server: UpstreamServer, stream_format: str, **kwargs) -> SageMakerProvider:
    return SageMakerProvider(aws_client("sagemaker-runtime", server.url), ENDPOINT, stream_format, **kwargs)


def _parts(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("name", fixture_names("sagemaker"))
@pytest.mark.parametrize("part_size", [1, 7, 10_000], ids=["byte-per-part", "7-bytes", "all-in-one-part"])
def test_fixture_through_boto3(name: str, part_size: int) -> None:
    # GIVEN the endpoint's output cut into PayloadParts of `part_size` bytes (1 byte splits every UTF-8 sequence)
    data = fixture(name)
    reply = eventstream_reply(map(payload_part, _parts(line_body(data), part_size)))
    with UpstreamServer(reply) as server:
        answer = answer_of(_provider(server, data["format"]).stream(REQUEST))
    assert answer == expected_answer(data)


def test_request_reaches_the_endpoint_as_documented() -> None:
    with UpstreamServer(eventstream_reply([payload_part(line_body(fixture("sagemaker-lmi")))])) as server:
        answer_of(_provider(server, "lmi").stream(REQUEST))
    (request,) = server.requests
    assert request.path == f"/endpoints/{ENDPOINT}/invocations-response-stream"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "inputs": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "parameters": {"max_new_tokens": 64, "details": True},
    }


@pytest.mark.parametrize("name", fixture_names("sagemaker"))
def test_every_two_part_cut_gives_the_same_answer(name: str) -> None:
    data = fixture(name)
    body = line_body(data)
    for cut in range(len(body) + 1):
        answer = answer_of(
            SageMakerProvider(FakeSageMakerRuntime([body[:cut], body[cut:]]), ENDPOINT, data["format"]).stream(REQUEST)
        )
        assert answer == expected_answer(data), f"cut at byte {cut}"


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=2_000), max_size=20),
    name=st.sampled_from(["sagemaker-lmi", "sagemaker-tgi", "sagemaker-lmi-outputs"]),
)
def test_any_cutting_gives_the_same_answer(cuts: list[int], name: str) -> None:
    data = fixture(name)
    body = line_body(data)
    points = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    parts = [body[a:b] for a, b in pairwise(points)]
    answer = answer_of(SageMakerProvider(FakeSageMakerRuntime(parts), ENDPOINT, data["format"]).stream(REQUEST))
    assert answer == expected_answer(data)


def test_a_line_over_the_limit_ends_the_answer_with_an_error() -> None:
    # GIVEN an endpoint that streams one endless line
    parts = [b'{"token": {"text": "', *([b"x" * 1000] * 20)]
    client = FakeSageMakerRuntime(parts)
    answer = answer_of(SageMakerProvider(client, ENDPOINT, "lmi", max_line_bytes=4096).stream(REQUEST))
    assert answer.error == ("internal", "LineTooLong")
    assert client.body.closed


def test_tgi_error_event_is_a_model_error() -> None:
    body = (
        b'data:{"token": {"id": 1, "text": "Hi", "special": false}}\n\n'
        b'data:{"error": "Request failed during generation: CUDA out of memory", "error_type": "generation"}\n\n'
    )
    answer = answer_of(SageMakerProvider(FakeSageMakerRuntime([body]), ENDPOINT, "tgi").stream(REQUEST))
    assert answer.text == "Hi"
    assert answer.error == ("model_error", "generation")


def test_output_that_is_not_json_is_internal() -> None:
    answer = answer_of(
        SageMakerProvider(FakeSageMakerRuntime([b"<html>502</html>\n"]), ENDPOINT, "lmi").stream(REQUEST)
    )
    assert answer.error[0] == "internal"


IN_STREAM = [
    pytest.param(
        sagemaker_exception("ModelStreamError", "CUDA error", ErrorCode="500"),
        "model_error",
        "ModelStreamError",
        id="model-stream-error",
    ),
    pytest.param(
        sagemaker_exception("InternalStreamFailure", "stream failed"),
        "unavailable",
        "InternalStreamFailure",
        id="internal-stream-failure",
    ),
]


@pytest.mark.parametrize(("frame", "kind", "code"), IN_STREAM)
def test_in_stream_errors(frame: bytes, kind: str, code: str) -> None:
    first = b'{"token": {"text": "Partial"}, "generated_text": null, "details": null}\n'
    with UpstreamServer(eventstream_reply([payload_part(first), frame])) as server:
        answer = answer_of(_provider(server, "lmi").stream(REQUEST))
    assert answer.text == "Partial"
    assert answer.error == (kind, code)


PRE_STREAM = [
    pytest.param(400, "ValidationError", "validation", id="400-endpoint-not-found"),
    pytest.param(424, "ModelError", "model_error", id="424-model-error"),
    pytest.param(429, "ThrottlingException", "throttled", id="429-throttled"),
    pytest.param(403, "AccessDeniedException", "access_denied", id="403-access-denied"),
    pytest.param(503, "ServiceUnavailable", "unavailable", id="503-unavailable"),
]


@pytest.mark.parametrize(("status", "code", "kind"), PRE_STREAM)
def test_pre_stream_errors(status: int, code: str, kind: str) -> None:
    with UpstreamServer(aws_error_reply(status, code, "Endpoint llama3 of account 1 not found.")) as server:
        answer = answer_of(_provider(server, "lmi").stream(REQUEST))
    assert not answer.started
    assert answer.error == (kind, code)


def test_connection_dropped_mid_stream_is_unavailable() -> None:
    first = payload_part(b'{"token": {"text": "Par"}}\n')
    with UpstreamServer(eventstream_reply([first], ending="drop")) as server:
        answer = answer_of(_provider(server, "lmi").stream(REQUEST))
    assert (answer.text, answer.error[0]) == ("Par", "unavailable")


def test_closing_the_generator_closes_the_upstream_connection() -> None:
    first = payload_part(b'{"token": {"text": "Par"}}\n')
    with UpstreamServer(eventstream_reply([first], ending="hold")) as server:
        with closing(_provider(server, "lmi").stream(REQUEST)) as events:
            assert isinstance(next(events), Start)
            assert next(events) == TextDelta("Par")
        assert server.client_closed_early.wait(timeout=10)


def test_unknown_format_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown SageMaker stream format"):
        SageMakerProvider(FakeSageMakerRuntime([]), ENDPOINT, "ndjson")
