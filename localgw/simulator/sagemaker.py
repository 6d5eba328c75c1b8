"""Simulated sagemaker-runtime InvokeEndpointWithResponseStream.

    POST /endpoints/{EndpointName}/invocations-response-stream

The body is an event stream of `PayloadPart` events whose payload is raw bytes of the container's own stream.
What that stream holds depends on the serving container, chosen here by endpoint-name convention:

- name contains `tgi`         → Hugging Face TGI server-sent events: `data:{"token": {...}, ...}\\n\\n`, ending with
                                a special `</s>` token (skip it) that carries `generated_text` and `details`;
- name contains `lmi-outputs` → older LMI (DJL) jsonlines: `{"outputs": [" text"]}`;
- anything else               → LMI rolling-batch jsonlines: `{"token": {"text": ...}}`, the last line adding
                                `generated_text` and `details.finish_reason`.

As on AWS, part boundaries ignore the container's framing: the byte stream is cut at (seeded, deterministic)
random offsets, so a line may be split across parts, a part may hold several lines, and a cut may fall inside a
multi-byte UTF-8 character.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web

from ..eventstream import CONTENT_TYPE, event_message, exception_message, json_bytes
from .exchange import Frame, Rejection, SimulatorExchange, failure_text
from .prompts import block_text, parse_any_prompt
from .script import ReplyPlan, SimConversation, SimMessage, SimStopReason

INVOKE_STREAM_PATH: Final = "/endpoints/{endpoint_name}/invocations-response-stream"

HOLD_PROBABILITY: Final = 0.3
"""Chance that a line waits and leaves in the same part as the next one."""
SPLIT_PROBABILITY: Final = 0.35
"""Chance that pending bytes are cut short, the rest following in a later part."""
INSIDE_CHARACTER_PROBABILITY: Final = 0.5
"""When cutting and a multi-byte character is in reach, chance to cut inside it."""
STREAM_ERROR_CODE: Final = "StreamBroken"
"""One of the ErrorCode values AWS documents for ModelStreamError."""
_ENDPOINT_NAME: Final = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


# -- errors --


def _sagemaker_error(status: int, code: str, body: Mapping[str, Any]) -> Rejection:
    return Rejection(
        status, code, json_bytes(dict(body)), {"Content-Type": "application/json", "x-amzn-ErrorType": code}
    )


def throttling_error() -> Rejection:
    # SageMaker answers throttling with HTTP 400 ThrottlingException and a null message (seen in AWS SDK issue
    # reports: "Status Code: 400; Error Code: ThrottlingException", botocore prints the message as "None").
    return _sagemaker_error(400, "ThrottlingException", {"message": None})


def container_rejected(detail: str) -> Rejection:
    """The serving container refused the body: SageMaker relays that as ModelError (424)."""
    message = f'Received client error (400) from primary with message "{detail}". (simulated endpoint)'
    return _sagemaker_error(
        424, "ModelError", {"message": message, "OriginalStatusCode": 400, "OriginalMessage": detail}
    )


def validation_error(message: str) -> Rejection:
    return _sagemaker_error(400, "ValidationError", {"message": message})


# -- request --


class UnreadableBody(ValueError):
    """A body the serving container would answer with a 4xx."""


def conversation_of(body: Any) -> SimConversation:
    """TGI/LMI `{"inputs", "parameters"}` bodies, or LMI chat `{"messages", "max_tokens"}` bodies."""
    if not isinstance(body, dict):
        raise UnreadableBody("request body must be a JSON object")
    if isinstance(body.get("inputs"), str):
        parameters = body.get("parameters") or {}
        system, messages = parse_any_prompt(body["inputs"])
        return SimConversation(messages, system, _limit(parameters.get("max_new_tokens"), "parameters.max_new_tokens"))
    if isinstance(body.get("messages"), list):
        system_parts = [
            block_text(m.get("content")) for m in body["messages"] if isinstance(m, dict) and m.get("role") == "system"
        ]
        messages = tuple(
            SimMessage(m["role"], block_text(m.get("content")))
            for m in body["messages"]
            if isinstance(m, dict) and m.get("role") in ("user", "assistant")
        )
        limit = body.get("max_tokens", body.get("max_new_tokens"))
        return SimConversation(messages, "\n".join(system_parts) or None, _limit(limit, "max_tokens"))
    raise UnreadableBody('body needs "inputs" (a prompt string) or "messages"')


def _limit(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnreadableBody(f"{name} must be an integer >= 1, got {value!r}")
    return value


# -- container stream dialects: one line (bytes) per chunk, plus maybe a trailing line --

Lines = list[Frame]


def _token_id(text: str) -> int:
    return sum(text.encode("utf-8")) % 32000 + 3


def _tgi_details(plan: ReplyPlan, finish_reason: str) -> dict[str, Any]:
    # TGI's StreamDetails; `input_length` counts prompt tokens (here: the simulator's input words).
    return {
        "finish_reason": finish_reason,
        "generated_tokens": plan.output_tokens,
        "seed": None,
        "input_length": plan.input_tokens,
    }


def tgi_lines(plan: ReplyPlan) -> Lines:
    def line(
        index: int, token: Mapping[str, Any], generated_text: str | None, details: Mapping[str, Any] | None
    ) -> bytes:
        event = {"index": index, "token": token, "generated_text": generated_text, "details": details}
        return b"data:" + json_bytes(event) + b"\n\n"

    lines: Lines = []
    for chunk in plan.chunks_to_send:
        token = {"id": _token_id(chunk.text), "text": chunk.text, "logprob": -0.25, "special": False}
        is_last = not plan.fails and chunk.index == len(plan.chunks) - 1
        capped = is_last and plan.stop_reason is SimStopReason.MAX_TOKENS
        details = _tgi_details(plan, "length") if capped else None
        lines.append(
            Frame(chunk.at, line(chunk.index + 1, token, plan.text if capped else None, details), (chunk.index,))
        )
    if not plan.fails and plan.stop_reason is SimStopReason.END_TURN:
        eos = {"id": 2, "text": "</s>", "logprob": -0.01, "special": True}
        details = _tgi_details(plan, "eos_token")
        lines.append(Frame(plan.end_at, line(len(plan.chunks) + 1, eos, plan.text, details)))
    return lines


def lmi_lines(plan: ReplyPlan) -> Lines:
    reason = "eos_token" if plan.stop_reason is SimStopReason.END_TURN else "length"
    lines: Lines = []
    for chunk in plan.chunks_to_send:
        event: dict[str, Any] = {"token": {"id": _token_id(chunk.text), "text": chunk.text, "log_prob": -0.25}}
        if not plan.fails and chunk.index == len(plan.chunks) - 1:
            event["generated_text"] = plan.text
            event["details"] = {"finish_reason": reason, "generated_tokens": plan.output_tokens}
        lines.append(Frame(chunk.at, json_bytes(event) + b"\n", (chunk.index,)))
    return lines


def lmi_outputs_lines(plan: ReplyPlan) -> Lines:
    return [Frame(c.at, json_bytes({"outputs": [c.text]}) + b"\n", (c.index,)) for c in plan.chunks_to_send]


# endpoint-name marker → (dialect name, X-Amzn-SageMaker-Content-Type, renderer); first match wins
DIALECTS: Final[tuple[tuple[str, str, str, Callable[[ReplyPlan], Lines]], ...]] = (
    ("tgi", "tgi", "text/event-stream", tgi_lines),
    ("lmi-outputs", "lmi-outputs", "application/jsonlines", lmi_outputs_lines),
    ("", "lmi", "application/jsonlines", lmi_lines),
)


def dialect_for(endpoint_name: str) -> tuple[str, str, Callable[[ReplyPlan], Lines]]:
    lowered = endpoint_name.lower()
    for marker, name, content_type, render in DIALECTS:
        if marker in lowered:
            return name, content_type, render
    raise AssertionError("the last dialect matches every name")


# -- cutting bytes into parts --


def _cut_point(data: bytes, rng: random.Random) -> int:
    """A cut in 1..len(data)-1, sometimes inside a multi-byte UTF-8 character."""
    inside = [i for i in range(1, len(data)) if data[i] & 0xC0 == 0x80]
    if inside and rng.random() < INSIDE_CHARACTER_PROBABILITY:
        return rng.choice(inside)
    return rng.randint(1, len(data) - 1)


def cut_into_parts(lines: Lines, rng: random.Random) -> list[Frame]:
    """Re-frame the container's lines as PayloadPart bytes cut at random offsets; all bytes are sent by the time
    of the last line. A part completes the chunks whose last byte it carries."""
    parts: list[Frame] = []
    pending = b""
    pending_ends: list[tuple[int, int]] = []  # (offset just past the chunk's bytes in `pending`, chunk index)
    for position, line in enumerate(lines):
        pending += line.data
        pending_ends += [(len(pending), index) for index in line.completes]
        is_last = position == len(lines) - 1
        if not is_last and rng.random() < HOLD_PROBABILITY:
            continue
        cut = len(pending)
        if not is_last and len(pending) > 1 and rng.random() < SPLIT_PROBABILITY:
            cut = _cut_point(pending, rng)
        completes = tuple(index for end, index in pending_ends if end <= cut)
        parts.append(Frame(line.at, pending[:cut], completes))
        pending = pending[cut:]
        pending_ends = [(end - cut, index) for end, index in pending_ends if end > cut]
    return parts


# -- handler --


async def invoke_endpoint_with_response_stream(request: web.Request) -> web.StreamResponse:
    endpoint_name = request.match_info["endpoint_name"]
    exchange = SimulatorExchange(request, "sagemaker", endpoint_name, request_id_header="x-amzn-RequestId")
    dialect, content_type, render = dialect_for(endpoint_name)
    exchange.note_family(dialect)
    try:
        if not _ENDPOINT_NAME.match(endpoint_name):
            raise validation_error(
                f"Endpoint name {endpoint_name!r} does not satisfy the pattern {_ENDPOINT_NAME.pattern}"
            )
        try:
            conversation = conversation_of(json.loads(await request.read()))
        except ValueError as exc:  # JSON errors and UnreadableBody
            raise container_rejected(str(exc)) from None
        plan = exchange.plan(conversation, invalid=container_rejected, throttled=throttling_error)
    except Rejection as rejection:
        return exchange.reject(rejection)

    rng = random.Random(f"{dialect}\x00{plan.turn}\x00{plan.text}")
    frames = [
        Frame(part.at, event_message("PayloadPart", part.data, "application/octet-stream"), part.completes)
        for part in cut_into_parts(render(plan), rng)
    ]
    if plan.fails:
        failure = exception_message(
            "ModelStreamError", failure_text(plan), message_key="Message", ErrorCode=STREAM_ERROR_CODE
        )
        frames.append(Frame(plan.end_at, failure))
    headers = {
        "Content-Type": CONTENT_TYPE,
        "X-Amzn-SageMaker-Content-Type": content_type,
        "x-Amzn-Invoked-Production-Variant": "AllTraffic",
    }
    return await exchange.stream(plan, frames, headers, error_code="ModelStreamError" if plan.fails else None)


def add_sagemaker_routes(app: web.Application) -> None:
    app.router.add_post(INVOKE_STREAM_PATH, invoke_endpoint_with_response_stream)
