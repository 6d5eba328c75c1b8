"""The model families behind Bedrock's InvokeModelWithResponseStream: request bodies in, model JSON chunks out.

Each family reads its native request body into a `SimConversation` and renders a `ReplyPlan` as the sequence of
model JSON objects Bedrock wraps into `chunk` events (base64 in `{"bytes": ...}`). Shapes follow the AWS
model-parameter documentation; where a detail was not verifiable it is noted. Every family's last object carries
`amazon-bedrock-invocationMetrics`, as Bedrock adds it to the final chunk.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

from lambdas.catalogue import strip_geo_prefix

from .attachments import block_attachments
from .prompts import PromptError, block_text, parse_chat_prompt, parse_claude_text, parse_titan
from .script import ReplyPlan, SimConversation, SimMessage, SimStopReason, Timed, layout
from .tools import ToolProblem, anthropic_tools, check_thinking, converse_tools, with_tool_results

Json = dict[str, Any]

NOVA_NON_TEXT: Final = ("amazon.nova-canvas", "amazon.nova-reel", "amazon.nova-sonic")
"""Nova models that do not stream text through InvokeModelWithResponseStream."""


class MalformedInput(ValueError):
    """A request body Bedrock would refuse; the message is the part after "Malformed input request: "."""


Piece = Timed[Json]
"""One model JSON object due at a planned time."""


def base_model_id(model_id: str) -> str:
    """`arn:...:inference-profile/us.anthropic.x:0` or `us.anthropic.x:0` → `anthropic.x:0`."""
    # One list of inference-profile prefixes for the relay and its simulator (a second copy had already drifted).
    return strip_geo_prefix(model_id.rsplit("/", 1)[-1])


def invocation_metrics(plan: ReplyPlan) -> Json:
    return {
        "inputTokenCount": plan.input_tokens,
        "outputTokenCount": plan.output_tokens,
        "invocationLatency": round(plan.end_at * 1000),
        "firstByteLatency": round(plan.ttft * 1000),
    }


# -- request helpers --


def _required(body: Mapping[str, Any], key: str) -> Any:
    if key not in body:
        raise MalformedInput(f"#: required key [{key}] not found")
    return body[key]


def _optional_limit(container: Mapping[str, Any], key: str, path: str) -> int | None:
    value = container.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedInput(f"#/{path}: expected type: Integer, found: {type(value).__name__}")
    if value < 1:
        raise MalformedInput(f"#/{path}: {value} is not greater or equal to 1")
    return value


def _string(body: Mapping[str, Any], key: str) -> str:
    value = _required(body, key)
    if not isinstance(value, str):
        raise MalformedInput(f"#/{key}: expected type: String, found: {type(value).__name__}")
    return value


def _prompt_conversation(
    parse: Callable[[str], tuple[str | None, tuple[SimMessage, ...]]], prompt: str, limit: int | None
) -> SimConversation:
    try:
        system, messages = parse(prompt)
    except PromptError as exc:
        raise MalformedInput(f"#/prompt: {exc}") from None
    return SimConversation(messages, system, limit)


def messages_of(raw: Any, path: str = "messages") -> tuple[SimMessage, ...]:
    if not isinstance(raw, list) or not raw:
        raise MalformedInput(f"#/{path}: expected a non-empty array of messages")
    messages = []
    for index, item in enumerate(raw):
        role = item.get("role") if isinstance(item, dict) else None
        if role not in ("user", "assistant"):
            raise MalformedInput(f"#/{path}/{index}/role: {role!r} is not a valid enum value")
        content = item.get("content")
        messages.append(SimMessage(role, block_text(content), attachments=block_attachments(content)))
    return tuple(messages)


# -- families --


class Family:
    """A request dialect and response dialect of InvokeModelWithResponseStream."""

    name: str = ""

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        raise NotImplementedError

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        """The model JSON objects of a normally ending stream, or (with `fail_after`) the ones before the failure."""
        raise NotImplementedError

    def _stream(
        self,
        plan: ReplyPlan,
        opening: list[Json],
        delta: Callable[[int, bool], Json],
        closing: list[Json],
        before: list[Piece] | None = None,
        after: list[Piece] | None = None,
    ) -> list[Piece]:
        pieces = layout(plan, opening, delta, closing, before or (), after or ())
        if not plan.fails:
            pieces[-1].item["amazon-bedrock-invocationMetrics"] = invocation_metrics(plan)
        return pieces


class AnthropicMessagesFamily(Family):
    name = "anthropic-messages"

    def __init__(self, model: str) -> None:
        self.model = model

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        _required(body, "anthropic_version")
        limit = _optional_limit(body, "max_tokens", "max_tokens")
        if limit is None:
            raise MalformedInput("#: required key [max_tokens] not found")
        system = body.get("system")
        raw = _required(body, "messages")
        tools = anthropic_tools(body)
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        try:
            messages = with_tool_results(raw, messages_of(raw), bool(tools))
            check_thinking(raw, thinking)
        except ToolProblem as exc:
            raise MalformedInput(str(exc)) from None
        return SimConversation(
            messages, block_text(system) if system else None, limit, tools, reports_cache=bool(tools) or thinking
        )

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        usage: Json = {"input_tokens": plan.input_tokens, "output_tokens": 1}
        if plan.reports_cache:
            usage |= {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
        start = {
            "type": "message_start",
            "message": {
                "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        }
        text_index = 1 if plan.reasoning_pieces else 0
        block_start = {
            "type": "content_block_start",
            "index": text_index,
            "content_block": {"type": "text", "text": ""},
        }

        def delta(index: int, _: bool) -> Json:
            return {
                "type": "content_block_delta",
                "index": text_index,
                "delta": {"type": "text_delta", "text": plan.chunks[index].text},
            }

        before = _anthropic_thinking(plan)
        opening = [start, block_start]
        if before:
            opening = [start]
            before.append(Timed(plan.chunks[0].at, block_start))
        after: list[Piece] = []
        last_block = text_index
        call = plan.tool_call
        if call is not None:
            last_block = text_index + 1
            at = call.fragments[0].at
            block = {"type": "tool_use", "id": call.id("toolu_bdrk_"), "name": call.name, "input": {}}
            after = [
                Timed(at, {"type": "content_block_stop", "index": text_index}),
                Timed(at, {"type": "content_block_start", "index": last_block, "content_block": block}),
                *(
                    Timed(f.at, {"type": "content_block_delta", "index": last_block, "delta": _json_delta(f.text)})
                    for f in call.fragments
                ),
            ]
        closing = [
            {"type": "content_block_stop", "index": last_block},
            {
                "type": "message_delta",
                "delta": {"stop_reason": str(plan.stop_reason), "stop_sequence": None},
                "usage": {"output_tokens": plan.output_tokens},
            },
            {"type": "message_stop"},
        ]
        return self._stream(plan, opening, delta, closing, before, after)


def _json_delta(fragment: str) -> Json:
    return {"type": "input_json_delta", "partial_json": fragment}


def _anthropic_thinking(plan: ReplyPlan) -> list[Piece]:
    """A thinking block (index 0): its text in fragments, then the signature."""
    if not plan.reasoning_pieces:
        return []
    first, last = plan.reasoning_pieces[0].at, plan.reasoning_pieces[-1].at
    return [
        Timed(
            first, {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}
        ),
        *(
            Timed(
                f.at,
                {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": f.text}},
            )
            for f in plan.reasoning_pieces
        ),
        Timed(
            last,
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": plan.signature},
            },
        ),
        Timed(last, {"type": "content_block_stop", "index": 0}),
    ]


class ClaudeTextFamily(Family):
    """Claude v2 / Instant text completions."""

    name = "claude-text"
    STOP_SEQUENCE: Final = "\n\nHuman:"

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        limit = _optional_limit(body, "max_tokens_to_sample", "max_tokens_to_sample")
        if limit is None:
            raise MalformedInput("#: required key [max_tokens_to_sample] not found")
        return _prompt_conversation(parse_claude_text, _string(body, "prompt"), limit)

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        def delta(index: int, _: bool) -> Json:
            return {"completion": plan.chunks[index].text, "stop_reason": None, "stop": None}

        finished = plan.stop_reason is SimStopReason.END_TURN
        final = {
            "completion": "",
            "stop_reason": "stop_sequence" if finished else "max_tokens",
            "stop": self.STOP_SEQUENCE if finished else None,
        }
        return self._stream(plan, [], delta, [final])


class LlamaFamily(Family):
    name = "llama"

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        return _prompt_conversation(
            parse_chat_prompt, _string(body, "prompt"), _optional_limit(body, "max_gen_len", "max_gen_len")
        )

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        words_before = [0]
        for chunk in plan.chunks:
            words_before.append(words_before[-1] + chunk.words)

        def delta(index: int, _: bool) -> Json:
            # prompt_token_count only on the first chunk; generation_token_count is cumulative.
            return {
                "generation": plan.chunks[index].text,
                "prompt_token_count": plan.input_tokens if index == 0 else None,
                "generation_token_count": words_before[index + 1],
                "stop_reason": None,
            }

        final = {
            "generation": "",
            "prompt_token_count": None,
            "generation_token_count": plan.output_tokens,
            "stop_reason": "stop" if plan.stop_reason is SimStopReason.END_TURN else "length",
        }
        return self._stream(plan, [], delta, [final])


class MistralFamily(Family):
    name = "mistral"

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        return _prompt_conversation(
            parse_chat_prompt, _string(body, "prompt"), _optional_limit(body, "max_tokens", "max_tokens")
        )

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        reason = "stop" if plan.stop_reason is SimStopReason.END_TURN else "length"

        def delta(index: int, is_last: bool) -> Json:
            # The stop reason rides on the last text chunk.
            return {"outputs": [{"text": plan.chunks[index].text, "stop_reason": reason if is_last else None}]}

        return self._stream(plan, [], delta, [])


class TitanTextFamily(Family):
    name = "titan-text"

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        config = body.get("textGenerationConfig") or {}
        if not isinstance(config, dict):
            raise MalformedInput("#/textGenerationConfig: expected type: JSONObject")
        limit = _optional_limit(config, "maxTokenCount", "textGenerationConfig/maxTokenCount")
        return _prompt_conversation(parse_titan, _string(body, "inputText"), limit)

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        reason = "FINISH" if plan.stop_reason is SimStopReason.END_TURN else "LENGTH"
        words_before = [0]
        for chunk in plan.chunks:
            words_before.append(words_before[-1] + chunk.words)

        def delta(index: int, is_last: bool) -> Json:
            return {
                "outputText": plan.chunks[index].text,
                "index": 0,
                "totalOutputTextTokenCount": words_before[index + 1],
                "completionReason": reason if is_last else None,
                "inputTextTokenCount": plan.input_tokens if index == 0 else None,
            }

        return self._stream(plan, [], delta, [])


Event = tuple[str, Json]
"""A Converse event: (event type, payload)."""


def converse_payloads(
    plan: ReplyPlan,
) -> tuple[list[Event], Callable[[int], Event], list[Event], list[Timed[Event]], list[Timed[Event]]]:
    """ConverseStream's events for a reply: (opening, delta(index), closing, before, after) — `before` the
    reasoning block (index 0) ahead of the text, `after` the tool call's block after it."""
    opening = [("messageStart", {"role": "assistant"})]
    text_index = 1 if plan.reasoning_pieces else 0

    def delta(index: int) -> Event:
        return "contentBlockDelta", {"delta": {"text": plan.chunks[index].text}, "contentBlockIndex": text_index}

    before: list[Timed[Event]] = []
    if plan.reasoning_pieces:
        last = plan.reasoning_pieces[-1].at
        before = [
            *(Timed(f.at, _converse_delta({"reasoningContent": {"text": f.text}}, 0)) for f in plan.reasoning_pieces),
            Timed(last, _converse_delta({"reasoningContent": {"signature": plan.signature}}, 0)),
            Timed(last, ("contentBlockStop", {"contentBlockIndex": 0})),
        ]
    after: list[Timed[Event]] = []
    last_block = text_index
    call = plan.tool_call
    if call is not None:
        last_block = text_index + 1
        at = call.fragments[0].at
        start = {
            "start": {"toolUse": {"toolUseId": call.id("tooluse_"), "name": call.name}},
            "contentBlockIndex": last_block,
        }
        after = [
            Timed(at, ("contentBlockStop", {"contentBlockIndex": text_index})),
            Timed(at, ("contentBlockStart", start)),
            *(Timed(f.at, _converse_delta({"toolUse": {"input": f.text}}, last_block)) for f in call.fragments),
        ]
    usage: Json = {
        "inputTokens": plan.input_tokens,
        "outputTokens": plan.output_tokens,
        "totalTokens": plan.input_tokens + plan.output_tokens,
    }
    if plan.reports_cache:
        usage |= {"cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}
    closing = [
        ("contentBlockStop", {"contentBlockIndex": last_block}),
        ("messageStop", {"stopReason": str(plan.stop_reason)}),
        ("metadata", {"usage": usage, "metrics": {"latencyMs": round(plan.end_at * 1000)}}),
    ]
    return opening, delta, closing, before, after


def _converse_delta(delta: Json, index: int) -> Event:
    return "contentBlockDelta", {"delta": delta, "contentBlockIndex": index}


def converse_conversation(body: Mapping[str, Any], max_tokens_keys: tuple[str, ...]) -> SimConversation:
    """Converse-shaped bodies (ConverseStream, and Nova's invoke schema): messages of text blocks, system blocks."""
    raw = _required(body, "messages")
    messages = messages_of(raw)
    tools = converse_tools(body)
    thinking = ((body.get("additionalModelRequestFields") or {}).get("thinking") or {}).get("type") == "enabled"
    try:
        messages = with_tool_results(raw, messages, bool(tools))
        check_thinking(raw, thinking)
    except ToolProblem as exc:
        raise MalformedInput(str(exc)) from None
    if messages[0].role != "user":
        raise MalformedInput(
            "A conversation must start with a user message. "
            "Try again with a conversation that starts with a user message"
        )
    system_blocks = body.get("system") or []
    system = block_text(system_blocks) if system_blocks else None
    config = body.get("inferenceConfig") or {}
    limit = None
    for key in max_tokens_keys:
        limit = limit or _optional_limit(config, key, f"inferenceConfig/{key}")
    return SimConversation(messages, system, limit, tools, reports_cache=bool(tools) or thinking)


class NovaFamily(Family):
    """Amazon Nova's invoke schema: Converse-shaped request, Converse events wrapped by their type as the key."""

    name = "nova"

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        return converse_conversation(body, ("max_new_tokens", "maxTokens"))

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        opening, delta, closing, before, after = converse_payloads(plan)
        closing[-1][1]["metrics"] = {}  # Nova's metadata metrics are empty; latency is in the invocation metrics
        return self._stream(
            plan,
            [{event: payload} for event, payload in opening],
            lambda index, _: dict([delta(index)]),
            [{event: payload} for event, payload in closing],
            [Timed(timed.at, dict([timed.item])) for timed in before],
            [Timed(timed.at, dict([timed.item])) for timed in after],
        )


class CohereCommandRFamily(Family):
    name = "cohere-command-r"

    _ROLES: Final = {"USER": "user", "CHATBOT": "assistant"}

    def parse(self, body: Mapping[str, Any]) -> SimConversation:
        history = body.get("chat_history") or []
        if not isinstance(history, list):
            raise MalformedInput("#/chat_history: expected type: JSONArray")
        messages = []
        for index, item in enumerate(history):
            role = self._ROLES.get(item.get("role")) if isinstance(item, dict) else None
            if role is None:
                # SYSTEM / TOOL entries hold no conversation text the simulator counts.
                if isinstance(item, dict) and item.get("role") in ("SYSTEM", "TOOL"):
                    continue
                raise MalformedInput(f"#/chat_history/{index}/role: expected USER, CHATBOT, SYSTEM or TOOL")
            messages.append(SimMessage(role, str(item.get("message", ""))))
        messages.append(SimMessage("user", _string(body, "message")))
        preamble = body.get("preamble")
        return SimConversation(
            tuple(messages),
            preamble if isinstance(preamble, str) else None,
            _optional_limit(body, "max_tokens", "max_tokens"),
        )

    def pieces(self, plan: ReplyPlan) -> list[Piece]:
        generation_id = str(uuid.uuid4())
        reason = "COMPLETE" if plan.stop_reason is SimStopReason.END_TURN else "MAX_TOKENS"
        start = {"is_finished": False, "event_type": "stream-start", "generation_id": generation_id}

        def delta(index: int, _: bool) -> Json:
            return {"is_finished": False, "event_type": "text-generation", "text": plan.chunks[index].text}

        tokens = {"input_tokens": plan.input_tokens, "output_tokens": plan.output_tokens}
        end = {
            "is_finished": True,
            "event_type": "stream-end",
            "response": {
                "response_id": str(uuid.uuid4()),
                "text": plan.text,
                "generation_id": generation_id,
                "finish_reason": reason,
                "meta": {"api_version": {"version": "1"}, "billed_units": dict(tokens), "tokens": dict(tokens)},
            },
            "finish_reason": reason,
        }
        return self._stream(plan, [start], delta, [end])


def family_for(model_id: str) -> Family | None:
    """The family serving this model id (geo prefixes and ARNs accepted), or None for an unknown id."""
    model = base_model_id(model_id)
    if model.startswith(("anthropic.claude-v2", "anthropic.claude-instant")):
        return ClaudeTextFamily()
    if model.startswith("anthropic."):
        return AnthropicMessagesFamily(model)
    if model.startswith("meta."):
        return LlamaFamily()
    if model.startswith("mistral."):
        return MistralFamily()
    if model.startswith(("amazon.titan-text", "amazon.titan-tg1")):
        return TitanTextFamily()
    if model.startswith("amazon.nova") and not model.startswith(NOVA_NON_TEXT):
        return NovaFamily()
    if model.startswith("cohere.command-r"):
        return CohereCommandRFamily()
    return None
