"""Simulated OpenAI-compatible chat completions, streaming only.

    POST /openai/v1/chat/completions        (base URL for clients: http://HOST:PORT/openai/v1)

Server-sent events `data: {chat.completion.chunk}`: first a chunk with `delta.role = "assistant"` and empty
content, then content chunks, then an empty delta with `finish_reason` (`stop` | `length`), then — with
`stream_options.include_usage` — a chunk with `choices: []` and `usage`, then `data: [DONE]`.
Errors use OpenAI's `{"error": {"message", "type", "param", "code"}}` shape: before the stream as an HTTP error,
during it as a `data: {"error": ...}` event after which the stream ends without `[DONE]`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from ..eventstream import json_bytes
from .attachments import block_attachments
from .exchange import Rejection, SimulatorExchange, failure_text, text_frames
from .prompts import block_text
from .script import ReplyPlan, SimConversation, SimMessage, SimStopReason, Timed
from .tools import ToolProblem, openai_conversation, openai_tools

CHAT_COMPLETIONS_PATH: Final = "/openai/v1/chat/completions"
SYSTEM_FINGERPRINT: Final = "fp_localgw_simulator"
MISSING_KEY_MESSAGE: Final = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
    "auth (i.e. Authorization: Bearer YOUR_KEY). (localgw simulator: any non-empty key is accepted.)"
)


def openai_error(status: int, message: str, type_: str, code: str | None = None, param: str | None = None) -> Rejection:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Rejection(status, code or type_, json_bytes(body), {"Content-Type": "application/json"})


def invalid_request(message: str, param: str | None = None) -> Rejection:
    return openai_error(400, message, "invalid_request_error", param=param)


def rate_limited() -> Rejection:
    message = "Rate limit reached for requests (simulated by localgw: [[sim throttle]]). Please try again in 1s."
    rejection = openai_error(429, message, "requests", code="rate_limit_exceeded")
    rejection.headers["retry-after"] = "1"
    return rejection


def _bearer_key(request: web.Request) -> str:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else ""


def _limit(body: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid_request(f"Invalid '{name}': expected an integer >= 1, got {value!r}.", param=name)
        return value
    return None


def conversation_of(body: Any) -> SimConversation:
    if not isinstance(body, dict):
        raise invalid_request("We could not parse the JSON body of your request.")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise invalid_request("Missing required parameter: 'messages'.", param="messages")
    system_parts: list[str] = []
    messages: list[SimMessage] = []
    for index, item in enumerate(raw):
        role = item.get("role") if isinstance(item, dict) else None
        if role in ("system", "developer"):
            system_parts.append(block_text(item.get("content")))
        elif role in ("user", "assistant"):
            content = item.get("content")
            messages.append(SimMessage(role, block_text(content), attachments=block_attachments(content)))
        elif role != "tool":  # tool results are read by openai_conversation
            raise invalid_request(
                f"Invalid value for 'messages[{index}].role': {role!r}.", param=f"messages[{index}].role"
            )
    if body.get("stream") is not True:
        raise invalid_request(
            'The localgw simulator only serves streaming requests: set "stream": true.', param="stream"
        )
    tools = openai_tools(body)
    try:
        grouped = openai_conversation(raw, messages)
    except ToolProblem as exc:
        raise invalid_request(str(exc), param="messages") from None
    reports_cache = bool(tools) or "reasoning_effort" in body
    return SimConversation(grouped, "\n".join(system_parts) or None, _limit(body), tools, reports_cache)


def _event(payload: Mapping[str, Any]) -> bytes:
    return b"data: " + json_bytes(dict(payload)) + b"\n\n"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    exchange = SimulatorExchange(request, "openai", "", request_id_header="x-request-id")
    try:
        if not _bearer_key(request):
            raise openai_error(401, MISSING_KEY_MESSAGE, "invalid_request_error")
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise invalid_request("We could not parse the JSON body of your request.") from None
        model = body.get("model") if isinstance(body, dict) else None
        if not isinstance(model, str) or not model:
            raise invalid_request("you must provide a model parameter", param="model")
        exchange.state.log.update(exchange.record, model=model, family="chat.completion.chunk")
        conversation = conversation_of(body)
        plan = exchange.plan(conversation, invalid=invalid_request, throttled=rate_limited)
    except Rejection as rejection:
        return exchange.reject(rejection)

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    frames = text_frames(plan, **_events(plan, exchange.id, model, include_usage))
    headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    return await exchange.stream(plan, frames, headers, error_code="server_error" if plan.fails else None)


def _events(plan: ReplyPlan, request_id: str, model: str, include_usage: bool) -> dict[str, Any]:
    base = {
        "id": f"chatcmpl-{request_id.replace('-', '')[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    if include_usage:
        base["usage"] = None  # every chunk says "no usage yet"; only the last one carries it

    def chunk(delta: Mapping[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": dict(delta), "logprobs": None, "finish_reason": finish_reason}
        return _event({**base, "choices": [choice]})

    finish_reason = _FINISH_REASONS[plan.stop_reason]
    closing = [chunk({}, finish_reason)]
    if include_usage:
        usage: dict[str, Any] = {
            "prompt_tokens": plan.input_tokens,
            "completion_tokens": plan.output_tokens,
            "total_tokens": plan.input_tokens + plan.output_tokens,
        }
        if plan.reports_cache:
            usage["prompt_tokens_details"] = {"cached_tokens": 0}
            usage["completion_tokens_details"] = {"reasoning_tokens": len(plan.reasoning.split())}
        closing.append(_event({**base, "choices": [], "usage": usage}))
    closing.append(b"data: [DONE]\n\n")
    failure = _event(
        {
            "error": {
                "message": failure_text(plan),
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
    )
    before = [Timed(f.at, chunk({"reasoning_content": f.text})) for f in plan.reasoning_pieces]
    after: list[Timed[bytes]] = []
    call = plan.tool_call
    if call is not None:
        first = {
            "index": 0,
            "id": call.id("call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        after = [Timed(call.fragments[0].at, chunk({"tool_calls": [first]}))]
        after += [
            Timed(f.at, chunk({"tool_calls": [{"index": 0, "function": {"arguments": f.text}}]}))
            for f in call.fragments
        ]
    return {
        "opening": [chunk({"role": "assistant", "content": "", "refusal": None})],
        "delta": lambda index, _: chunk({"content": plan.chunks[index].text}),
        "closing": closing,
        "failure": failure,
        "before": before,
        "after": after,
    }


_FINISH_REASONS = {
    SimStopReason.END_TURN: "stop",
    SimStopReason.MAX_TOKENS: "length",
    SimStopReason.TOOL_USE: "tool_calls",
}


def add_openai_routes(app: web.Application) -> None:
    app.router.add_post(CHAT_COMPLETIONS_PATH, chat_completions)
