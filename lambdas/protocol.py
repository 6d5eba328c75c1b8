"""Protocol v1: the JSON frames the relay sends to clients, and their error codes.

Every frame is one WebSocket text message holding one JSON object. Per requestId, `seq` starts at 0 and rises
by 1 with no gap, and exactly one terminal frame (`done` or `error`) ends every accepted request.
docs/protocol.md is the reference for client authors; keep the two in step.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from lambdas.providers.events import ErrorKind

PROTOCOL_VERSION = 1

MAX_FRAME_BYTES = 32 * 1024
"""API Gateway's WebSocket frame quota; every frame the relay sends stays at or under it."""

REQUEST_ID_PATTERN = r"\A[A-Za-z0-9_-]{1,64}\Z"
"""Anchored with \\A…\\Z: `$` would also accept a trailing newline."""


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNKNOWN_ACTION = "unknown_action"
    THROTTLED = "throttled"
    MODEL_ERROR = "model_error"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"
    INTERNAL = "internal"
    RATE_LIMITED = "rate_limited"
    """A per-user quota is exhausted; the frame carries `retryAfter` seconds."""
    FORBIDDEN = "forbidden"
    """The request names something (a requestId, a conversationId) that belongs to another user."""
    NOT_FOUND = "not_found"
    """The request names something that does not exist (or no longer does)."""
    CONNECTION_LOST = "connection_lost"
    """The client was gone longer than the grace period, so the answer was stopped; seen on resume/replay."""
    CONFLICT = "conflict"
    """Another connection resumed the answer: this one receives no more of it."""


RETRYABLE_CODES: frozenset[str] = frozenset(
    {ErrorCode.THROTTLED, ErrorCode.UPSTREAM_UNAVAILABLE, ErrorCode.RATE_LIMITED}
)


class StopReason(StrEnum):
    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    CONTENT_FILTERED = "content_filtered"
    TOOL_USE = "tool_use"
    TIME_LIMIT = "time_limit"
    CANCELLED = "cancelled"


UPSTREAM_ERROR_CODES: dict[ErrorKind, ErrorCode] = {
    ErrorKind.THROTTLED: ErrorCode.THROTTLED,
    ErrorKind.UNAVAILABLE: ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorKind.MODEL_ERROR: ErrorCode.MODEL_ERROR,
    ErrorKind.VALIDATION: ErrorCode.BAD_REQUEST,
    ErrorKind.ACCESS_DENIED: ErrorCode.MODEL_ERROR,
    ErrorKind.INTERNAL: ErrorCode.INTERNAL,
}
"""The error code a client sees for each kind of upstream failure."""


def upstream_error_message(kind: ErrorKind, detail: str) -> str:
    """What the client is told of an upstream failure: its kind, without upstream internals (ARNs, account ids);
    `detail` (the upstream's message) only where it is the client's to fix."""
    return {
        ErrorKind.THROTTLED: "The model is busy (throttled); try again shortly.",
        ErrorKind.UNAVAILABLE: "The model is unavailable right now; try again shortly.",
        ErrorKind.MODEL_ERROR: "The model failed while answering.",
        ErrorKind.VALIDATION: f"The model rejected the request: {detail[:300]}",
        ErrorKind.ACCESS_DENIED: "The relay is not allowed to call this model.",
        ErrorKind.INTERNAL: "The relay failed while reading the model's answer.",
    }[kind]


def new_request_id() -> str:
    """A server-made requestId: 22 URL-safe characters, inside REQUEST_ID_PATTERN."""
    return secrets.token_urlsafe(16)


def start_frame(request_id: str, model: str) -> dict[str, Any]:
    return {"type": "start", "requestId": request_id, "seq": 0, "model": model}


def delta_frame(request_id: str, seq: int, text: str) -> dict[str, Any]:
    return {"type": "delta", "requestId": request_id, "seq": seq, "text": text}


def done_frame(
    request_id: str,
    seq: int,
    stop_reason: str,
    input_tokens: int | None,
    output_tokens: int | None,
    first_token_ms: int | None,
    total_ms: int,
    estimated: Sequence[str] = (),
    cache: tuple[int | None, int | None] | None = None,
) -> dict[str, Any]:
    """`estimated` names the usage counts the relay estimated because the model did not report them; `cache`
    (read, write) adds the prompt-cache counts (protocol v2; None: not listed)."""
    usage: dict[str, Any] = {"inputTokens": input_tokens, "outputTokens": output_tokens}
    if cache is not None:
        usage["cacheReadInputTokens"], usage["cacheWriteInputTokens"] = cache
    if estimated:
        usage["estimated"] = list(estimated)
    return {
        "type": "done",
        "requestId": request_id,
        "seq": seq,
        "stopReason": stop_reason,
        "usage": usage,
        "metrics": {"firstTokenMs": first_token_ms, "totalMs": total_ms},
    }


# -- protocol v2: reasoning and tool calls --


def reasoning_frame(request_id: str, seq: int, text: str) -> dict[str, Any]:
    """Model reasoning ("thinking"), coalesced like `delta` text and never mixed into it."""
    return {"type": "reasoning", "requestId": request_id, "seq": seq, "text": text}


def redacted_reasoning_frame(request_id: str, seq: int) -> dict[str, Any]:
    """A reasoning block the upstream encrypted: the client learns that the model reasoned, not what."""
    return {"type": "reasoning", "requestId": request_id, "seq": seq, "redacted": True}


def tool_use_frame(
    request_id: str, seq: int, tool_use_id: str, name: str, tool_input: dict[str, Any]
) -> dict[str, Any]:
    """One complete tool call; the client runs the tool and answers with `toolResults`."""
    return {
        "type": "tool_use",
        "requestId": request_id,
        "seq": seq,
        "toolUseId": tool_use_id,
        "name": name,
        "input": tool_input,
    }


def error_frame(
    code: str,
    message: str,
    *,
    request_id: str | None = None,
    seq: int | None = None,
    retryable: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An error frame; `retryable` defaults from the code. `extra` adds code-specific fields (e.g. `actions`).

    Error frames repeat what the client sent (a field name, an action, an id), so every string in one is clipped
    here, whoever built it: `message` to 1,000 characters, the others to 100, an ellipsis marking a cut. With the
    relay's few short lists (`actions`) that keeps any error frame a few KB, far under MAX_FRAME_BYTES."""

    def clip(value: Any, limit: int = 100) -> Any:
        if isinstance(value, str) and len(value) > limit:
            return value[: limit - 1] + "…"
        if isinstance(value, list | tuple):
            return [clip(item, limit) for item in value[:limit]]
        return value

    frame: dict[str, Any] = {"type": "error"}
    if request_id is not None:
        frame["requestId"] = clip(request_id)
    if seq is not None:
        frame["seq"] = seq
    frame["code"] = clip(str(code))
    frame["message"] = clip(message, 1_000)
    frame["retryable"] = (code in RETRYABLE_CODES) if retryable is None else retryable
    frame.update({name: clip(value) for name, value in extra.items()})
    return frame


def encode(frame: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: non-ASCII text stays 1-4 bytes a character instead of a 6-byte escape."""
    # A lone surrogate (possible in client-sent JSON) has no UTF-8 form: it goes out as "?" rather than failing.
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
