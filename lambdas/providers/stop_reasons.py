"""Every vendor's stop reason mapped onto the relay's normalized set (`lambdas.protocol.StopReason`)."""

from __future__ import annotations

from lambdas.protocol import StopReason

_NORMALIZED: dict[str, str] = {
    # end of a complete answer
    "end_turn": StopReason.END_TURN,
    "stop": StopReason.END_TURN,
    "complete": StopReason.END_TURN,
    "finish": StopReason.END_TURN,
    "eos_token": StopReason.END_TURN,
    "end": StopReason.END_TURN,
    "finished": StopReason.END_TURN,  # Titan Text (documented spelling; the stream says FINISH)
    "eos": StopReason.END_TURN,
    # token budget exhausted
    "max_tokens": StopReason.MAX_TOKENS,
    "length": StopReason.MAX_TOKENS,
    "max_length": StopReason.MAX_TOKENS,
    "model_length": StopReason.MAX_TOKENS,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,  # Converse
    "error_limit": StopReason.MAX_TOKENS,  # Cohere: the context limit was reached
    # a caller-given stop sequence matched
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "stop_criteria_met": StopReason.STOP_SEQUENCE,  # Titan Text
    # blocked by a safety system
    "content_filtered": StopReason.CONTENT_FILTERED,
    "content_filter": StopReason.CONTENT_FILTERED,
    "guardrail_intervened": StopReason.CONTENT_FILTERED,
    "refusal": StopReason.CONTENT_FILTERED,
    "error_toxic": StopReason.CONTENT_FILTERED,
    # the model wants to call a tool
    "tool_use": StopReason.TOOL_USE,
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    # the generation was cancelled upstream
    "user_cancel": StopReason.CANCELLED,  # Cohere
}


def normalize(reason: str | None) -> str:
    """A normalized stop reason; an unknown vendor value passes through lower-cased, a missing one is end_turn."""
    if not reason:
        return StopReason.END_TURN
    key = reason.strip().lower()
    return str(_NORMALIZED.get(key, key))
