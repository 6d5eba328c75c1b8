"""Simulated bedrock-runtime: InvokeModelWithResponseStream and ConverseStream over AWS event-stream.

Paths are the ones botocore requests (rest-json, the model id percent-encoded as one path segment, `:` → `%3A`,
`/` of an ARN → `%2F`; aiohttp decodes it back):

    POST /model/{modelId}/invoke-with-response-stream
    POST /model/{modelId}/converse-stream

Errors are shaped so botocore raises the same exceptions as on AWS: before the stream an HTTP error with
`x-amzn-ErrorType` (→ `ClientError`, typed e.g. `client.exceptions.ThrottlingException`); during the stream an
exception message (→ `botocore.exceptions.EventStreamError` with code `modelStreamErrorException`).
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from ..eventstream import CONTENT_TYPE, event_message, exception_message, json_bytes
from .bedrock_models import MalformedInput, Piece, converse_conversation, converse_payloads, family_for
from .exchange import Frame, Rejection, SimulatorExchange, failure_text, text_frames
from .script import ReplyPlan, Timed

INVOKE_PATH: Final = "/model/{model_id}/invoke-with-response-stream"
CONVERSE_PATH: Final = "/model/{model_id}/converse-stream"

REQUEST_ID_HEADER: Final = "x-amzn-RequestId"
ERROR_TYPE_SUFFIX: Final = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
"""Bedrock appends this to `x-amzn-ErrorType`; botocore keeps only the part before the first `:`."""
THROTTLED_MESSAGE: Final = "Too many requests, please wait before trying again."
INVALID_MODEL_MESSAGE: Final = "The provided model identifier is invalid."
STREAM_ERROR_EVENT: Final = "modelStreamErrorException"
PADDING_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def bedrock_error(status: int, code: str, message: str) -> Rejection:
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": code + ERROR_TYPE_SUFFIX}
    return Rejection(status, code, json_bytes({"message": message}), headers)


def validation_error(detail: str) -> Rejection:
    return bedrock_error(400, "ValidationException", detail)


def malformed(detail: str) -> Rejection:
    return validation_error(f"Malformed input request: {detail}, please reformat your input and try again.")


def throttling_error() -> Rejection:
    return bedrock_error(429, "ThrottlingException", THROTTLED_MESSAGE)


async def _json_body(request: web.Request) -> Mapping[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        raise malformed("#: expected a JSON object") from None
    if not isinstance(body, dict):
        raise malformed("#: expected type: JSONObject")
    return body


def _padding(rng: random.Random) -> str:
    # AWS pads event payloads with a "p" field of varying length so sizes do not reveal the content.
    return PADDING_ALPHABET[: rng.randint(1, len(PADDING_ALPHABET))]


def _stream_error(plan: ReplyPlan) -> bytes:
    return exception_message(
        STREAM_ERROR_EVENT,
        failure_text(plan),
        originalStatusCode=500,
        originalMessage="simulated model failure",
    )


async def invoke_with_response_stream(request: web.Request) -> web.StreamResponse:
    """InvokeModelWithResponseStream: `chunk` events whose `bytes` hold the model family's own JSON."""
    model_id = request.match_info["model_id"]
    exchange = SimulatorExchange(request, "bedrock-invoke", model_id, request_id_header=REQUEST_ID_HEADER)
    try:
        family = family_for(model_id)
        if family is None:
            raise validation_error(INVALID_MODEL_MESSAGE)
        exchange.note_family(family.name)
        body = await _json_body(request)
        try:
            conversation = family.parse(body)
        except MalformedInput as exc:
            raise malformed(str(exc)) from None
        plan = exchange.plan(conversation, invalid=malformed, throttled=throttling_error)
    except Rejection as rejection:
        return exchange.reject(rejection)

    rng = random.Random(exchange.id)
    frames = [_chunk_frame(piece, rng) for piece in family.pieces(plan)]
    if plan.fails:
        frames.append(Frame(plan.end_at, _stream_error(plan)))
    headers = {"Content-Type": CONTENT_TYPE, "X-Amzn-Bedrock-Content-Type": "application/json"}
    return await exchange.stream(plan, frames, headers, error_code=STREAM_ERROR_EVENT if plan.fails else None)


def _chunk_frame(piece: Piece, rng: random.Random) -> Frame:
    model_json = json_bytes(piece.item)
    payload = {"bytes": base64.b64encode(model_json).decode("ascii"), "p": _padding(rng)}
    return Frame(piece.at, event_message("chunk", json_bytes(payload)), piece.completes)


async def converse_stream(request: web.Request) -> web.StreamResponse:
    """ConverseStream: Converse events with their JSON directly as the payload (no base64)."""
    model_id = request.match_info["model_id"]
    exchange = SimulatorExchange(request, "bedrock-converse", model_id, request_id_header=REQUEST_ID_HEADER)
    try:
        family = family_for(model_id)
        if family is None:
            raise validation_error(INVALID_MODEL_MESSAGE)
        exchange.note_family("converse")
        body = await _json_body(request)
        try:
            conversation = converse_conversation(body, ("maxTokens",))
        except MalformedInput as exc:
            raise validation_error(str(exc)) from None
        plan = exchange.plan(conversation, invalid=validation_error, throttled=throttling_error)
    except Rejection as rejection:
        return exchange.reject(rejection)

    rng = random.Random(exchange.id)

    def event(event_type: str, payload: dict[str, Any]) -> bytes:
        return event_message(event_type, json_bytes({**payload, "p": _padding(rng)}))

    opening, delta, closing, before, after = converse_payloads(plan)
    frames = text_frames(
        plan,
        opening=[event(*item) for item in opening],
        delta=lambda index, _: event(*delta(index)),
        closing=[event(*item) for item in closing],
        failure=_stream_error(plan),
        before=[Timed(timed.at, event(*timed.item)) for timed in before],
        after=[Timed(timed.at, event(*timed.item)) for timed in after],
    )
    return await exchange.stream(
        plan, frames, {"Content-Type": CONTENT_TYPE}, error_code=STREAM_ERROR_EVENT if plan.fails else None
    )


def add_bedrock_routes(app: web.Application) -> None:
    app.router.add_post(INVOKE_PATH, invoke_with_response_stream)
    app.router.add_post(CONVERSE_PATH, converse_stream)
