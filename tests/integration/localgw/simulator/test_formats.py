"""Every wire format, read by the real clients (boto3, the openai package), tells the same scripted story.

One conversation is rendered the way each provider sends it (native body, prompt template, Converse, TGI/LMI,
chat completions); each format's stream is read the way a client reads it and reduced to text, stop reason and
usage. All must agree with `plan_reply` — and with each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import openai
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from localgw.simulator import SimConversation, SimulatorServer, plan_reply

SYSTEM = "Be brief."
HISTORY = [("user", "Hello there"), ("assistant", "Hi! How can I help?")]
FAST = "[[sim rate=100000 ttft=0 tokens=40]]"
LAST = f"Tell me about {FAST} relays"

# Each format's stop reasons, normalized.
ENDED = {"end_turn", "stop_sequence", "stop", "FINISH", "COMPLETE", "eos_token"}
CAPPED = {"max_tokens", "length", "LENGTH", "MAX_TOKENS"}


@dataclass
class Reading:
    """What a client got out of one stream."""

    text: str = ""
    stop: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    events: list[Any] = field(default_factory=list)

    @property
    def normalized_stop(self) -> str | None:
        if self.stop is None:
            return None
        return "end_turn" if self.stop in ENDED else "max_tokens" if self.stop in CAPPED else f"?{self.stop}"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer() as running:
        yield running


def aws_client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


# -- rendering the conversation per format --


def llama3_prompt(system: str | None, turns: list[tuple[str, str]]) -> str:
    prompt = "<|begin_of_text|>"
    if system:
        prompt += f"<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
    for role, text in turns:
        prompt += f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
    return prompt + "<|start_header_id|>assistant<|end_header_id|>\n\n"


def inst_prompt(turns: list[tuple[str, str]]) -> str:
    prompt = "<s>"
    for role, text in turns:
        prompt += f"[INST] {text} [/INST]" if role == "user" else f" {text}</s>"
    return prompt


def claude_text_prompt(system: str, turns: list[tuple[str, str]]) -> str:
    names = {"user": "Human", "assistant": "Assistant"}
    return system + "".join(f"\n\n{names[role]}: {text}" for role, text in turns) + "\n\nAssistant:"


def titan_prompt(turns: list[tuple[str, str]]) -> str:
    names = {"user": "User", "assistant": "Bot"}
    return "\n".join(f"{names[role]}: {text}" for role, text in turns) + "\nBot:"


def invoke_body(family: str, turns: list[tuple[str, str]], max_tokens: int | None) -> dict[str, Any]:
    limit = max_tokens or 1000
    if family == "anthropic":
        return {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": limit,
            "system": SYSTEM,
            "messages": [{"role": role, "content": [{"type": "text", "text": text}]} for role, text in turns],
        }
    if family == "claude-text":
        return {"prompt": claude_text_prompt(SYSTEM, turns), "max_tokens_to_sample": limit}
    if family == "llama3":
        return {"prompt": llama3_prompt(SYSTEM, turns), "max_gen_len": limit}
    if family == "mistral":
        return {"prompt": inst_prompt(turns), "max_tokens": limit}
    if family == "titan":
        return {"inputText": titan_prompt(turns), "textGenerationConfig": {"maxTokenCount": limit}}
    if family == "nova":
        return {
            "schemaVersion": "messages-v1",
            "system": [{"text": SYSTEM}],
            "messages": [{"role": role, "content": [{"text": text}]} for role, text in turns],
            "inferenceConfig": {"max_new_tokens": limit},
        }
    if family == "cohere":
        history = [{"role": "USER" if r == "user" else "CHATBOT", "message": t} for r, t in turns[:-1]]
        return {"message": turns[-1][1], "chat_history": history, "preamble": SYSTEM, "max_tokens": limit}
    raise AssertionError(family)


# -- reading each format --


def read_invoke_chunk(reading: Reading, chunk: dict[str, Any]) -> None:
    """Every invoke family's JSON, the way a provider reads it."""
    reading.events.append(chunk)
    kind = chunk.get("type")
    if kind == "content_block_delta":
        reading.text += chunk["delta"]["text"]
    elif kind == "message_delta":
        reading.stop = chunk["delta"]["stop_reason"]
    elif "completion" in chunk:
        reading.text += chunk["completion"]
        reading.stop = chunk["stop_reason"] or reading.stop
    elif "generation" in chunk:
        reading.text += chunk["generation"]
        reading.stop = chunk["stop_reason"] or reading.stop
    elif "outputs" in chunk:
        reading.text += chunk["outputs"][0]["text"]
        reading.stop = chunk["outputs"][0]["stop_reason"] or reading.stop
    elif "outputText" in chunk:
        reading.text += chunk["outputText"]
        reading.stop = chunk["completionReason"] or reading.stop
    elif "contentBlockDelta" in chunk:
        reading.text += chunk["contentBlockDelta"]["delta"]["text"]
    elif "messageStop" in chunk:
        reading.stop = chunk["messageStop"]["stopReason"]
    elif chunk.get("event_type") == "text-generation":
        reading.text += chunk["text"]
    elif chunk.get("event_type") == "stream-end":
        reading.stop = chunk["finish_reason"]
    metrics = chunk.get("amazon-bedrock-invocationMetrics")
    if metrics:
        reading.input_tokens = metrics["inputTokenCount"]
        reading.output_tokens = metrics["outputTokenCount"]


def stream_invoke(family: str, model_id: str) -> Callable[..., Reading]:
    def run(url: str, reading: Reading, turns: list[tuple[str, str]], max_tokens: int | None) -> None:
        client = aws_client("bedrock-runtime", url)
        body = json.dumps(invoke_body(family, turns, max_tokens))
        response = client.invoke_model_with_response_stream(modelId=model_id, body=body)
        for event in response["body"]:
            read_invoke_chunk(reading, json.loads(event["chunk"]["bytes"]))

    return run


def stream_converse(url: str, reading: Reading, turns: list[tuple[str, str]], max_tokens: int | None) -> None:
    client = aws_client("bedrock-runtime", url)
    response = client.converse_stream(
        modelId="us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        system=[{"text": SYSTEM}],
        messages=[{"role": role, "content": [{"text": text}]} for role, text in turns],
        inferenceConfig={"maxTokens": max_tokens or 1000},
    )
    for event in response["stream"]:
        reading.events.append(event)
        if "contentBlockDelta" in event:
            reading.text += event["contentBlockDelta"]["delta"]["text"]
        elif "messageStop" in event:
            reading.stop = event["messageStop"]["stopReason"]
        elif "metadata" in event:
            reading.input_tokens = event["metadata"]["usage"]["inputTokens"]
            reading.output_tokens = event["metadata"]["usage"]["outputTokens"]


def stream_sagemaker(endpoint: str) -> Callable[..., None]:
    def run(url: str, reading: Reading, turns: list[tuple[str, str]], max_tokens: int | None) -> None:
        client = aws_client("sagemaker-runtime", url)
        body = {"inputs": llama3_prompt(SYSTEM, turns), "parameters": {"max_new_tokens": max_tokens or 1000}}
        response = client.invoke_endpoint_with_response_stream(EndpointName=endpoint, Body=json.dumps(body))
        buffer = b""
        for event in response["Body"]:
            reading.events.append(event["PayloadPart"]["Bytes"])
            # Parts cut lines (and characters) anywhere: split complete lines off the byte buffer, then decode.
            buffer += event["PayloadPart"]["Bytes"]
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                read_sagemaker_line(reading, line.decode("utf-8"))
        assert buffer == b""

    return run


def read_sagemaker_line(reading: Reading, line: str) -> None:
    if not line.strip():
        return
    data = json.loads(line.removeprefix("data:"))
    if "outputs" in data:
        reading.text += "".join(data["outputs"])
        return
    if not data["token"].get("special"):
        reading.text += data["token"]["text"]
    if data.get("details"):
        reading.stop = data["details"]["finish_reason"]
        reading.output_tokens = data["details"]["generated_tokens"]
        reading.input_tokens = data["details"].get("input_length")


def stream_openai(url: str, reading: Reading, turns: list[tuple[str, str]], max_tokens: int | None) -> None:
    client = openai.OpenAI(base_url=f"{url}/openai/v1", api_key="sk-test", max_retries=0)
    messages = [{"role": "system", "content": SYSTEM}] + [{"role": r, "content": t} for r, t in turns]
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
        max_completion_tokens=max_tokens or 1000,
    )
    for chunk in stream:
        reading.events.append(chunk)
        if chunk.usage:
            reading.input_tokens = chunk.usage.prompt_tokens
            reading.output_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            reading.text += choice.delta.content or ""
            reading.stop = choice.finish_reason or reading.stop


@dataclass(frozen=True)
class Format:
    name: str
    run: Callable[..., None]
    counts_input: bool = True
    counts_output: bool = True
    reports_stop: bool = True
    carries_history: bool = True


FORMATS = [
    Format("invoke anthropic messages", stream_invoke("anthropic", "us.anthropic.claude-3-5-haiku-20241022-v1:0")),
    Format("invoke claude v2 text", stream_invoke("claude-text", "anthropic.claude-v2:1")),
    Format("invoke llama 3", stream_invoke("llama3", "meta.llama3-8b-instruct-v1:0")),
    Format("invoke mistral", stream_invoke("mistral", "mistral.mistral-7b-instruct-v0:2")),
    Format("invoke titan text", stream_invoke("titan", "amazon.titan-text-express-v1")),
    Format("invoke nova", stream_invoke("nova", "us.amazon.nova-lite-v1:0")),
    Format("invoke cohere command r", stream_invoke("cohere", "cohere.command-r-v1:0")),
    Format("converse stream", stream_converse),
    Format("sagemaker tgi", stream_sagemaker("llama3-tgi-endpoint")),
    Format("sagemaker lmi", stream_sagemaker("llama3-endpoint"), counts_input=False),
    Format(
        "sagemaker lmi outputs",
        stream_sagemaker("my-lmi-outputs-endpoint"),
        counts_input=False,
        counts_output=False,
        reports_stop=False,
    ),
    Format("openai chat completions", stream_openai),
]
FORMAT_IDS = [f.name for f in FORMATS]


def read(server: SimulatorServer, fmt: Format, last: str = LAST, max_tokens: int | None = None) -> Reading:
    reading = Reading()
    fmt.run(server.url, reading, [*HISTORY, ("user", last)], max_tokens)
    return reading


def read_until_error(server: SimulatorServer, fmt: Format, last: str) -> tuple[Reading, Exception]:
    reading = Reading()
    with pytest.raises(Exception) as caught:
        fmt.run(server.url, reading, [*HISTORY, ("user", last)], None)
    return reading, caught.value


def expected_plan(last: str = LAST, max_tokens: int | None = None):
    return plan_reply(SimConversation.of(*HISTORY, ("user", last), system=SYSTEM, max_tokens=max_tokens))


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_every_format_streams_the_scripted_reply_with_its_usage(server: SimulatorServer, fmt: Format) -> None:
    plan = expected_plan()
    reading = read(server, fmt)
    assert reading.text == plan.text
    assert reading.text.startswith("Turn 2. You said: Tell me about relays ")
    assert reading.normalized_stop == ("end_turn" if fmt.reports_stop else None)
    assert reading.input_tokens == (plan.input_tokens if fmt.counts_input else None)
    assert reading.output_tokens == (plan.output_tokens if fmt.counts_output else None)


def test_all_formats_agree_with_each_other(server: SimulatorServer) -> None:
    readings = [read(server, fmt) for fmt in FORMATS]
    assert len({r.text for r in readings}) == 1
    assert {r.input_tokens for r in readings} - {None} == {expected_plan().input_tokens}
    assert {r.output_tokens for r in readings} - {None} == {40}


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_max_tokens_cuts_the_reply_with_a_length_stop(server: SimulatorServer, fmt: Format) -> None:
    plan = expected_plan(max_tokens=6)
    reading = read(server, fmt, max_tokens=6)
    assert reading.text == plan.text == "Turn 2. You said: Tell me"
    assert reading.normalized_stop == ("max_tokens" if fmt.reports_stop else None)
    assert reading.output_tokens == (6 if fmt.counts_output else None)


def mid_stream_error_code(error: Exception) -> str:
    if isinstance(error, EventStreamError):
        return error.response["Error"]["Code"]
    if isinstance(error, openai.APIError):
        return f"openai:{error.type}"
    raise error


EXPECTED_STREAM_ERROR = {
    "converse stream": "modelStreamErrorException",
    "sagemaker tgi": "ModelStreamError",
    "sagemaker lmi": "ModelStreamError",
    "sagemaker lmi outputs": "ModelStreamError",
    "openai chat completions": "openai:server_error",
}


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_fail_after_breaks_the_stream_with_the_formats_own_error(server: SimulatorServer, fmt: Format) -> None:
    last = "Tell me [[sim rate=100000 ttft=0 fail_after=4]]"
    reading, error = read_until_error(server, fmt, last)
    assert mid_stream_error_code(error) == EXPECTED_STREAM_ERROR.get(fmt.name, "modelStreamErrorException")
    assert "fail_after=4" in str(error)
    plan = expected_plan(last)
    assert reading.text == "".join(chunk.text for chunk in plan.chunks[:4])
    assert reading.stop is None


def refusal(error: Exception) -> tuple[int, str]:
    if isinstance(error, ClientError) and not isinstance(error, EventStreamError):
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
    if isinstance(error, openai.APIStatusError):
        return error.status_code, f"openai:{error.code or error.type}"
    raise error


def expected_throttle(fmt: Format) -> tuple[int, str]:
    if fmt.name.startswith("sagemaker"):
        return 400, "ThrottlingException"
    if fmt.name.startswith("openai"):
        return 429, "openai:rate_limit_exceeded"
    return 429, "ThrottlingException"


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_throttle_refuses_before_the_stream_with_a_typed_error(server: SimulatorServer, fmt: Format) -> None:
    reading, error = read_until_error(server, fmt, "Tell me [[sim throttle]]")
    assert refusal(error) == expected_throttle(fmt)
    assert reading.events == []


def expected_invalid(fmt: Format) -> tuple[int, str]:
    if fmt.name.startswith("sagemaker"):
        # SageMaker relays a container's refusal of the body as ModelError (424).
        return 424, "ModelError"
    if fmt.name.startswith("openai"):
        return 400, "openai:invalid_request_error"
    return 400, "ValidationException"


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_malformed_directive_is_refused_naming_the_bad_part(server: SimulatorServer, fmt: Format) -> None:
    reading, error = read_until_error(server, fmt, "Tell me [[sim tokens=lots]]")
    assert refusal(error) == expected_invalid(fmt)
    assert "tokens=lots" in str(error)
    assert reading.events == []
