"""What the client got: raw frames with their receive times, decoded per protocol and checked for completeness.

The relay's frames (docs/protocol.md) must have seq 0, 1, 2, ... with no gap, a start first and exactly one
terminal last. The baseline's frames are seed 001's: one JSON string per model chunk, then `{"type": "done"}`
(the baseline's only concession, so a client can tell the end).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bench.plan import Protocol

RELAY_TERMINALS = ("done", "error")
GATEWAY_ERROR_KEYS = {"message", "connectionId", "requestId"}
"""API Gateway's own frame when a route's Lambda crashed ("Internal server error"): the answer is over, unfinished."""


def is_gateway_error(frame: object) -> bool:
    return isinstance(frame, dict) and "type" not in frame and set(frame) == GATEWAY_ERROR_KEYS


@dataclass(frozen=True, slots=True)
class Received:
    """One frame as the WebSocket client got it."""

    t: float
    """`time.monotonic()` right after `recv()` returned it."""
    data: str


@dataclass(slots=True)
class Answer:
    """One answer, decoded."""

    sent_at: float
    frames: int = 0
    text: str = ""
    text_receipts: list[tuple[float, int]] = field(default_factory=list)
    """(receive time, characters of answer text received so far) for every frame that carried text."""
    terminal_at: float | None = None
    terminal: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)
    """Completeness or ordering faults; empty for a correct answer."""

    @property
    def first_text_at(self) -> float | None:
        return self.text_receipts[0][0] if self.text_receipts else None

    @property
    def ordered(self) -> bool:
        return not any(problem.startswith("order:") for problem in self.problems)

    @property
    def complete(self) -> bool:
        return self.terminal_at is not None and not any(problem.startswith("terminal:") for problem in self.problems)


def is_terminal(protocol: Protocol, data: str) -> bool:
    try:
        frame = json.loads(data)
    except ValueError:
        return False
    if not isinstance(frame, dict):
        return False
    if is_gateway_error(frame):
        return True
    if protocol == "baseline":
        return frame.get("type") == "done"
    return frame.get("type") in RELAY_TERMINALS and "seq" in frame


def decode(protocol: Protocol, sent_at: float, frames: list[Received], request_id: str | None = None) -> Answer:
    answer = Answer(sent_at=sent_at, frames=len(frames))
    if protocol == "baseline":
        _decode_baseline(answer, frames)
    else:
        _decode_relay(answer, frames, request_id)
    if answer.terminal_at is None:
        answer.problems.append("terminal: no terminal frame received")
    return answer


def _add_text(answer: Answer, t: float, text: str) -> None:
    if text:
        answer.text += text
        answer.text_receipts.append((t, len(answer.text)))


def _decode_baseline(answer: Answer, frames: list[Received]) -> None:
    for frame in frames:
        value = json.loads(frame.data)
        if _gateway_error(answer, frame, value):
            continue
        if answer.terminal_at is not None:
            answer.problems.append("terminal: a frame after the done message")
        if isinstance(value, str):
            _add_text(answer, frame.t, value)
        elif isinstance(value, dict) and value.get("type") == "done":
            answer.terminal_at, answer.terminal = frame.t, value
        else:
            answer.problems.append(f"frame: unexpected baseline frame {frame.data[:80]!r}")


def _gateway_error(answer: Answer, received: Received, frame: object) -> bool:
    if not is_gateway_error(frame):
        return False
    assert isinstance(frame, dict)
    answer.terminal_at = received.t
    answer.problems.append(f"terminal: API Gateway's {frame['message']!r} frame: the handler crashed")
    return True


def _decode_relay(answer: Answer, frames: list[Received], request_id: str | None) -> None:
    expected_seq = 0
    for index, received in enumerate(frames):
        frame = json.loads(received.data)
        if _gateway_error(answer, received, frame):
            continue
        kind = frame.get("type")
        if request_id is not None and frame.get("requestId") != request_id:
            answer.problems.append(f"frame: requestId {frame.get('requestId')!r} is not {request_id!r}")
        if frame.get("seq") != expected_seq:
            answer.problems.append(f"order: seq {frame.get('seq')} where {expected_seq} was due")
        expected_seq = (frame.get("seq") if isinstance(frame.get("seq"), int) else expected_seq) + 1
        if index == 0 and kind != "start":
            answer.problems.append(f"order: first frame is {kind!r}, not 'start'")
        if answer.terminal_at is not None:
            answer.problems.append(f"terminal: {kind!r} frame after the terminal frame")
        if kind == "delta":
            _add_text(answer, received.t, frame.get("text", ""))
        elif kind in RELAY_TERMINALS:
            answer.terminal_at, answer.terminal = received.t, frame
            if kind == "error":
                answer.problems.append(f"terminal: error frame {frame.get('code')}: {frame.get('message')}")
        elif kind != "start":
            answer.problems.append(f"frame: unexpected frame type {kind!r}")
