"""Simulated bedrock-runtime details beyond the shared story: model ids, request validation, event order, retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from localgw.simulator import SimulatorServer

FAST = "[[sim rate=100000 ttft=0 tokens=12]]"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as running:
        yield running


@pytest.fixture(scope="module")
def bedrock(server: SimulatorServer) -> Any:
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def messages_body(text: str = f"hi {FAST}", **overrides: Any) -> dict[str, Any]:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def invoke(client: Any, model_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(body))
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


@pytest.mark.parametrize(
    "model_id",
    [
        HAIKU,
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "us-gov.anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
    ],
)
def test_model_ids_botocore_percent_encodes_reach_the_right_family(bedrock: Any, model_id: str) -> None:
    chunks = invoke(bedrock, model_id, messages_body())
    assert chunks[0]["type"] == "message_start"


def test_anthropic_messages_event_sequence_and_metrics(bedrock: Any) -> None:
    chunks = invoke(bedrock, HAIKU, messages_body())
    kinds = [chunk["type"] for chunk in chunks]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert chunks[0]["message"]["usage"]["input_tokens"] == 1
    assert chunks[-2]["usage"]["output_tokens"] == 12
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert set(metrics) == {"inputTokenCount", "outputTokenCount", "invocationLatency", "firstByteLatency"}


def test_invoke_response_headers_match_bedrock(bedrock: Any) -> None:
    response = bedrock.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(messages_body()))
    assert response["contentType"] == "application/json"
    assert response["ResponseMetadata"]["RequestId"]
    list(response["body"])


@pytest.mark.parametrize("model_id", ["openai.gpt-4", "amazon.titan-embed-text-v2:0", "stability.sd3-large-v1:0"])
def test_unknown_model_id_is_a_validation_error(bedrock: Any, model_id: str) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match=r"The provided model identifier is invalid\."):
        invoke(bedrock, model_id, messages_body())


@pytest.mark.parametrize("missing", ["anthropic_version", "max_tokens", "messages"])
def test_anthropic_body_without_a_required_key_is_malformed_input(bedrock: Any, missing: str) -> None:
    with pytest.raises(ClientError) as caught:
        invoke(bedrock, HAIKU, messages_body(**{missing: None}))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("Malformed input request: ")
    assert f"[{missing}]" in error["Message"]


def test_claude_v2_prompt_without_human_turn_is_refused(bedrock: Any) -> None:
    body = {"prompt": f"hi {FAST}\n\nAssistant:", "max_tokens_to_sample": 50}
    with pytest.raises(bedrock.exceptions.ValidationException, match="Human:"):
        invoke(bedrock, "anthropic.claude-v2:1", body)


def test_non_json_body_is_malformed_input(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="Malformed input request"):
        bedrock.invoke_model_with_response_stream(modelId=HAIKU, body=b"{not json")


def test_converse_stream_event_order_matches_bedrock(bedrock: Any) -> None:
    response = bedrock.converse_stream(
        modelId="us.amazon.nova-pro-v1:0", messages=[{"role": "user", "content": [{"text": f"hi {FAST}"}]}]
    )
    names = [next(iter(event)) for event in response["stream"]]
    # No contentBlockStart for text; metadata comes after messageStop.
    assert names[0] == "messageStart"
    assert set(names[1:-3]) == {"contentBlockDelta"}
    assert names[-3:] == ["contentBlockStop", "messageStop", "metadata"]


def test_converse_must_start_with_a_user_message(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException, match="start with a user message"):
        bedrock.converse_stream(modelId=HAIKU, messages=[{"role": "assistant", "content": [{"text": f"x {FAST}"}]}])


def test_throttled_call_raises_the_typed_exception(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ThrottlingException, match="Too many requests"):
        invoke(bedrock, HAIKU, messages_body(f"hi {FAST} [[sim throttle]]"))


def test_throttle_n_refuses_the_first_n_identical_requests_then_serves(bedrock: Any) -> None:
    body = messages_body(f"retry me {FAST} [[sim throttle=2]]")
    for _ in range(2):
        with pytest.raises(bedrock.exceptions.ThrottlingException):
            invoke(bedrock, HAIKU, body)
    assert invoke(bedrock, HAIKU, body)[-1]["type"] == "message_stop"


def test_botocores_own_retries_get_through_a_short_throttle(server: SimulatorServer) -> None:
    retrying = boto3.client(
        "bedrock-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
    )
    chunks = invoke(retrying, HAIKU, messages_body(f"botocore retries {FAST} [[sim throttle=1]]"))
    assert chunks[-1]["type"] == "message_stop"


def test_fail_after_zero_fails_before_any_text(bedrock: Any) -> None:
    response = bedrock.invoke_model_with_response_stream(
        modelId="meta.llama3-70b-instruct-v1:0", body=json.dumps({"prompt": f"hi {FAST} [[sim fail_after=0]]"})
    )
    with pytest.raises(EventStreamError) as caught:
        for event in response["body"]:
            pytest.fail(f"unexpected event before the failure: {event}")
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
