"""The simulator's request record: outcomes, emit times, early client close, and GET /_sim/requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from localgw.simulator import RequestOutcome, RequestRecord, SimulatorServer, create_app, finished

FAST = "[[sim rate=100000 ttft=0 tokens=30]]"
SLOW = "[[sim rate=20 ttft=0 tokens=400]]"  # 20 s if read to the end: only ever read partially
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.fixture(scope="module", params=[True, False], ids=["handler-cancellation", "no-handler-cancellation"])
def server(request: pytest.FixtureRequest) -> Iterator[SimulatorServer]:
    # The gateway may run the app with or without aiohttp's handler cancellation; both must notice a gone client.
    with SimulatorServer(create_app(), handler_cancellation=request.param) as running:
        yield running


def aws_client(service: str, server: SimulatorServer) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def invoke_body(text: str) -> str:
    return json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1000, "messages": [{"role": "user", "content": text}]}
    )


def ended(server: SimulatorServer, request_id: str) -> RequestRecord:
    [record] = [r for r in server.log.wait_for(finished(request_id)) if r.id == request_id]
    return record


def test_a_completed_stream_is_recorded_chunk_by_chunk(server: SimulatorServer) -> None:
    response = aws_client("bedrock-runtime", server).invoke_model_with_response_stream(
        modelId=HAIKU, body=invoke_body(f"hello {FAST}")
    )
    list(response["body"])
    record = ended(server, response["ResponseMetadata"]["RequestId"])
    assert record.outcome is RequestOutcome.COMPLETED
    assert (record.format, record.model, record.family) == ("bedrock-invoke", HAIKU, "anthropic-messages")
    assert (record.turn, record.last_user_text) == (1, "hello")
    assert record.chunks_sent == record.chunks_planned == len(record.emits) > 0
    assert [emit.chunk for emit in record.emits] == list(range(record.chunks_planned))
    times = [emit.t for emit in record.emits]
    assert times == sorted(times)
    assert record.started_at <= times[0] and times[-1] <= record.ended_at


def test_emitted_characters_add_up_to_the_reply(server: SimulatorServer) -> None:
    client = aws_client("bedrock-runtime", server)
    response = client.converse_stream(modelId=HAIKU, messages=[{"role": "user", "content": [{"text": f"hi {FAST}"}]}])
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in response["stream"] if "contentBlockDelta" in e)
    record = ended(server, response["ResponseMetadata"]["RequestId"])
    assert sum(emit.chars for emit in record.emits) == len(text)


def test_bedrock_client_closing_early_stops_the_stream(server: SimulatorServer) -> None:
    response = aws_client("bedrock-runtime", server).invoke_model_with_response_stream(
        modelId=HAIKU, body=invoke_body(f"slow {SLOW}")
    )
    next(iter(response["body"]))
    response["body"].close()
    record = ended(server, response["ResponseMetadata"]["RequestId"])
    assert record.outcome is RequestOutcome.CLIENT_CLOSED
    assert record.chunks_sent < record.chunks_planned


def test_sagemaker_client_closing_early_stops_the_stream(server: SimulatorServer) -> None:
    response = aws_client("sagemaker-runtime", server).invoke_endpoint_with_response_stream(
        EndpointName="llama3-endpoint", Body=json.dumps({"inputs": f"slow {SLOW}"})
    )
    next(iter(response["Body"]))
    response["Body"].close()
    record = ended(server, response["ResponseMetadata"]["RequestId"])
    assert record.outcome is RequestOutcome.CLIENT_CLOSED
    assert record.chunks_sent < record.chunks_planned


def test_openai_client_closing_early_stops_the_stream(server: SimulatorServer) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": f"slow {SLOW}"}]}
    with requests.post(
        f"{server.url}/openai/v1/chat/completions",
        json=body,
        headers={"Authorization": "Bearer sk-test"},
        stream=True,
        timeout=30,
    ) as response:
        request_id = response.headers["x-request-id"]
        next(response.iter_content(chunk_size=64))
    record = ended(server, request_id)
    assert record.outcome is RequestOutcome.CLIENT_CLOSED
    assert record.chunks_sent < record.chunks_planned


def test_refusals_and_failures_are_recorded_with_their_codes(server: SimulatorServer) -> None:
    server.log.clear()
    client = aws_client("bedrock-runtime", server)
    with pytest.raises(client.exceptions.ThrottlingException):
        client.invoke_model_with_response_stream(modelId=HAIKU, body=invoke_body(f"x {FAST} [[sim throttle]]"))
    response = client.invoke_model_with_response_stream(
        modelId=HAIKU, body=invoke_body(f"y {FAST} [[sim fail_after=2]]")
    )
    with pytest.raises(client.exceptions.ClientError):
        list(response["body"])
    rejected, failed = server.log.wait_for(
        lambda rs: len(rs) == 2 and all(r.outcome is not RequestOutcome.RUNNING for r in rs)
    )
    assert (rejected.outcome, rejected.status, rejected.error) == (RequestOutcome.REJECTED, 429, "ThrottlingException")
    assert (failed.outcome, failed.error, failed.chunks_sent) == (RequestOutcome.FAILED, "modelStreamErrorException", 2)


def test_requests_endpoint_serves_the_record_as_json(server: SimulatorServer) -> None:
    requests.delete(f"{server.url}/_sim/requests", timeout=30).raise_for_status()
    for word in ("one", "two"):
        response = aws_client("bedrock-runtime", server).invoke_model_with_response_stream(
            modelId=HAIKU, body=invoke_body(f"{word} {FAST}")
        )
        list(response["body"])
        ended(server, response["ResponseMetadata"]["RequestId"])
    everything = requests.get(f"{server.url}/_sim/requests", timeout=30).json()["requests"]
    assert [r["last_user_text"] for r in everything] == ["one", "two"]
    latest = requests.get(f"{server.url}/_sim/requests?limit=1", timeout=30).json()["requests"]
    assert [r["last_user_text"] for r in latest] == ["two"]
    record = latest[0]
    assert record["outcome"] == "completed"
    assert set(record["emits"][0]) == {"chunk", "chars", "t", "planned"}
    assert record == server.log.last().to_json()


def test_paced_chunks_are_never_written_before_their_planned_time(server: SimulatorServer) -> None:
    response = aws_client("bedrock-runtime", server).invoke_model_with_response_stream(
        modelId=HAIKU, body=invoke_body("paced [[sim rate=400 ttft=30 tokens=24]]")
    )
    list(response["body"])
    record = ended(server, response["ResponseMetadata"]["RequestId"])
    assert record.emits[0].planned == pytest.approx(0.03)
    assert all(emit.t - record.started_at >= emit.planned for emit in record.emits)
