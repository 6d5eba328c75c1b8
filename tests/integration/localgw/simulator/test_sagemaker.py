"""Simulated SageMaker InvokeEndpointWithResponseStream: byte-level part cutting, dialects by endpoint name, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localgw.simulator import SimConversation, SimulatorServer, plan_reply

FAST = "[[sim rate=100000 ttft=0]]"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as running:
        yield running


@pytest.fixture(scope="module")
def sagemaker(server: SimulatorServer) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def parts(client: Any, endpoint: str, body: dict[str, Any]) -> tuple[list[bytes], dict[str, str]]:
    response = client.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=json.dumps(body))
    return [event["PayloadPart"]["Bytes"] for event in response["Body"]], response["ResponseMetadata"]["HTTPHeaders"]


def test_parts_cut_lines_and_characters_anywhere_without_losing_bytes(sagemaker: Any) -> None:
    received, _ = parts(sagemaker, "llama3-endpoint", {"inputs": f"Tell me about relays {FAST}"})
    stream = b"".join(received)
    lines = stream.splitlines(keepends=True)
    assert all(line.endswith(b"\n") for line in lines)
    assert any(not part.endswith(b"\n") for part in received), "no line was split across parts"
    assert any(part.count(b"\n") > 1 for part in received), "no part held several lines"

    def decodes(part: bytes) -> bool:
        try:
            part.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    assert not all(decodes(part) for part in received), "no cut fell inside a multi-byte character"
    text = "".join(json.loads(line)["token"]["text"] for line in lines)
    assert text == plan_reply(SimConversation.of(("user", f"Tell me about relays {FAST}"))).text


def test_cutting_is_deterministic_for_the_same_request(sagemaker: Any) -> None:
    body = {"inputs": f"Same request {FAST}"}
    assert parts(sagemaker, "llama3-endpoint", body)[0] == parts(sagemaker, "llama3-endpoint", body)[0]


def test_tgi_endpoint_streams_server_sent_events_ending_with_a_special_token(sagemaker: Any) -> None:
    received, headers = parts(sagemaker, "hf-tgi-llama", {"inputs": f"hi {FAST} [[sim tokens=8]]"})
    events = [json.loads(block.removeprefix(b"data:")) for block in b"".join(received).split(b"\n\n") if block]
    assert headers["x-amzn-sagemaker-content-type"] == "text/event-stream"
    assert [e["token"]["special"] for e in events] == [False] * (len(events) - 1) + [True]
    assert events[-1]["token"]["text"] == "</s>"
    assert events[-1]["generated_text"] == "".join(e["token"]["text"] for e in events[:-1])
    assert events[-1]["details"]["finish_reason"] == "eos_token"
    assert all(e["generated_text"] is None and e["details"] is None for e in events[:-1])


def test_older_lmi_endpoint_streams_outputs_lines(sagemaker: Any) -> None:
    prompt = f"hi {FAST} [[sim tokens=8]]"
    received, headers = parts(sagemaker, "mistral-lmi-outputs", {"inputs": prompt})
    lines = [json.loads(line) for line in b"".join(received).splitlines()]
    assert headers["x-amzn-sagemaker-content-type"] == "application/jsonlines"
    assert all(set(line) == {"outputs"} for line in lines)
    assert "".join(line["outputs"][0] for line in lines) == plan_reply(SimConversation.of(("user", prompt))).text


def test_lmi_chat_style_body_is_accepted(sagemaker: Any) -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello there"},
            {"role": "assistant", "content": "Hi!"},
            {"role": "user", "content": f"Tell me about relays {FAST}"},
        ],
        "max_tokens": 12,
    }
    received, _ = parts(sagemaker, "llama3-endpoint", body)
    lines = [json.loads(line) for line in b"".join(received).splitlines()]
    assert lines[-1]["generated_text"].startswith("Turn 2. You said: Tell me about relays")
    assert lines[-1]["details"]["finish_reason"] == "length"
    assert lines[-1]["details"]["generated_tokens"] == 12


def test_a_body_the_container_cannot_read_is_a_model_error(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sagemaker.invoke_endpoint_with_response_stream(EndpointName="llama3-endpoint", Body=b"not json")
    assert caught.value.response["Error"]["Code"] == "ModelError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert isinstance(caught.value, sagemaker.exceptions.ModelError)


def test_throttling_is_a_typed_client_error_with_a_null_message(sagemaker: Any) -> None:
    with pytest.raises(ClientError) as caught:
        parts(sagemaker, "llama3-endpoint", {"inputs": "hi [[sim throttle]]"})
    assert caught.value.response["Error"] == {"Code": "ThrottlingException", "Message": None}
