"""The simulator's deterministic "model": a conversation in, a reply plan out. It is a script, not a model.

The reply is `Turn k. You said: <last user text>` followed by filler words, where k is the number of user
messages. Filler words and chunk sizes come from PRNGs seeded with (k, last user text) only, so every wire format
yields the same reply for the same conversation even though some formats cannot carry a system prompt.

Counting rules (identical for every format):
- a token is one whitespace-separated word;
- output tokens = words streamed; input tokens = words across all message texts, directives stripped, system
  prompt excluded;
- `tokens=N` (default 120) is the whole reply length, echo included; an echo longer than N is sent whole with no
  filler; `max_tokens` cuts the reply and makes the stop reason `max_tokens`, otherwise it is `end_turn`.

Pacing: chunk 0 is due at `ttft`, each later chunk when its words have been "generated" at `rate` words per
second. Times are offsets from the request's arrival, so a sender sleeping until each absolute due time never
drifts.

Protocol v2 (issue 14): `think=N` streams N reasoning words (in fragments cut mid-word) with a signature before the
text; `tool=NAME` calls tool NAME of the request's tools after the text, with an input built from its schema, its
JSON streamed in fragments cut anywhere, and stops with `tool_use`. A conversation whose last user turn carries tool
results is answered `Turn k. Tool NAME returned: CONTENT` instead of the echo.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from .attachments import SimAttachment
from .directives import DirectiveError, extract_all

DEFAULT_TOKENS: Final = 120
DEFAULT_RATE: Final = 60.0
"""Words per second: Claude-class models on Bedrock publish ~50-100 tokens/s."""
DEFAULT_TTFT_MS: Final = 400.0
MAX_CHUNK_WORDS: Final = 3

# Mostly plain words, with some multi-byte UTF-8 (2, 3 and 4 bytes) so byte-level splitting of the streams
# (SageMaker payload parts) sometimes lands inside a character, as it can on AWS.
VOCABULARY: Final = (
    "the", "relay", "streams", "each", "token", "over", "a", "socket", "while", "gateway", "keeps", "connection",
    "open", "and", "lambda", "posts", "small", "frames", "to", "client", "who", "reads", "them", "in", "order",
    "simulated", "words", "arrive", "steadily", "with", "no", "meaning", "at", "all", "just", "filler", "for",
    "tests", "benchmarks", "latency", "budget", "window", "buffer", "flush", "retry", "backoff", "quota", "limit",
    "café", "naïve", "façade", "Zürich", "smörgåsbord", "日本語", "Ελλάδα", "🚀", "✓", "jalapeño",
    "message", "chunk", "delta", "stop",
)  # fmt: skip


class SimStopReason(StrEnum):
    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    TOOL_USE = "tool_use"


@dataclass(frozen=True, slots=True)
class SimToolResult:
    """A tool result in a user turn: the tool's name (found from the call it answers) and its content as text."""

    name: str
    content: str


@dataclass(frozen=True, slots=True)
class SimTool:
    """A tool the request offers."""

    name: str
    input_schema: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SimMessage:
    role: str
    """`user` or `assistant`."""
    text: str
    tool_results: tuple[SimToolResult, ...] = ()
    attachments: tuple[SimAttachment, ...] = ()
    """Images and documents that came with the text (localgw.simulator.attachments)."""


@dataclass(frozen=True, slots=True)
class SimConversation:
    """A request normalized from any wire format, directives still inside the texts."""

    messages: tuple[SimMessage, ...]
    system: str | None = None
    max_tokens: int | None = None
    tools: tuple[SimTool, ...] = ()
    reports_cache: bool = False
    """The request used tools or reasoning: the usage then lists prompt-cache counts (0)."""

    @classmethod
    def of(cls, *pairs: tuple[str, str], system: str | None = None, max_tokens: int | None = None) -> SimConversation:
        """Shorthand for tests: `SimConversation.of(("user", "hi"), ("assistant", "hello"), ("user", "again"))`."""
        return cls(tuple(SimMessage(role, text) for role, text in pairs), system, max_tokens)


@dataclass(frozen=True, slots=True)
class Defaults:
    """What a request gets when its directives do not say otherwise."""

    tokens: int = DEFAULT_TOKENS
    rate: float = DEFAULT_RATE
    ttft_ms: float = DEFAULT_TTFT_MS


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    text: str
    """Chunks after the first start with the separating space, so texts concatenate to the reply."""
    words: int
    at: float
    """Seconds after the request arrived when this chunk is due."""


@dataclass(frozen=True, slots=True)
class Fragment:
    """A fragment of reasoning text or of a tool's input JSON, and when it is due."""

    text: str
    at: float


@dataclass(frozen=True, slots=True)
class SimToolCall:
    key: str
    """Deterministic id suffix; each format adds its own prefix (`toolu_`, `tooluse_`, `call_`)."""
    name: str
    input: dict[str, Any]
    input_json: str
    fragments: tuple[Fragment, ...]

    def id(self, prefix: str) -> str:
        return prefix + self.key


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    turn: int
    last_user_text: str
    text: str
    chunks: tuple[Chunk, ...]
    stop_reason: SimStopReason
    input_tokens: int
    output_tokens: int
    ttft: float
    """Seconds."""
    rate: float
    fail_after: int | None
    throttle: int | None
    reasoning: str = ""
    reasoning_pieces: tuple[Fragment, ...] = ()
    signature: str | None = None
    tool_call: SimToolCall | None = None
    """Made after the text when the stream ends normally (never with `fail_after`)."""
    reports_cache: bool = False

    @property
    def start_at(self) -> float:
        """When the first item (reasoning, else text) is due."""
        return self.reasoning_pieces[0].at if self.reasoning_pieces else self.chunks[0].at

    @property
    def fails(self) -> bool:
        return self.fail_after is not None

    @property
    def chunks_to_send(self) -> tuple[Chunk, ...]:
        """The chunks that precede the end of the stream (all of them, or the first `fail_after`)."""
        return self.chunks if self.fail_after is None else self.chunks[: self.fail_after]

    @property
    def end_at(self) -> float:
        """When the stream ends: the last chunk, or the failure (due when chunk `fail_after` would have been)."""
        if self.fail_after is not None and self.fail_after < len(self.chunks):
            return self.chunks[self.fail_after].at
        if self.tool_call is not None and not self.fails:
            return self.tool_call.fragments[-1].at
        return self.chunks[-1].at

    @property
    def sent_text(self) -> str:
        return "".join(chunk.text for chunk in self.chunks_to_send)


def _normalized(text: str) -> str:
    return " ".join(text.split())


def _chunk_sizes(rng: random.Random, total: int) -> list[int]:
    sizes: list[int] = []
    while total > 0:
        size = min(total, rng.randint(1, MAX_CHUNK_WORDS))
        sizes.append(size)
        total -= size
    return sizes


def _join(words: Sequence[str], after: str = "") -> str:
    """Words separated by a space, except after a word that ends its line (the attachments' acknowledgement)."""
    text = ""
    for word in words:
        text += word if not after or after.endswith("\n") else " " + word
        after = word
    return text


def _schedule(
    words: Sequence[str], sizes: Sequence[int], ttft: float, rate: float, shift: float = 0.0
) -> tuple[Chunk, ...]:
    chunks: list[Chunk] = []
    start = 0
    for index, size in enumerate(sizes):
        # Words generated after the first chunk cost 1/rate seconds each.
        generated_after_first = start + size - sizes[0]
        at = ttft + shift if math.isinf(rate) else ttft + shift + generated_after_first / rate
        text = _join(words[start : start + size], words[start - 1] if start else "")
        chunks.append(Chunk(index, text, size, at))
        start += size
    return tuple(chunks)


def plan_reply(conversation: SimConversation, defaults: Defaults = Defaults()) -> ReplyPlan:
    """The reply the simulator streams for `conversation`. Raises `DirectiveError` for a bad directive."""
    texts = [conversation.system or ""] + [message.text for message in conversation.messages]
    stripped, directives = extract_all(texts)
    message_texts = stripped[1:]
    if conversation.max_tokens is not None and conversation.max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {conversation.max_tokens}")

    users = [
        (message, text)
        for message, text in zip(conversation.messages, message_texts, strict=True)
        if message.role == "user"
    ]
    turn = len(users)
    results = users[-1][0].tool_results if users else ()
    if results:
        echo = _normalized(" ".join(f"Tool {result.name} returned: {result.content}" for result in results))
        words = ["Turn", f"{turn}.", *echo.split()]
    else:
        echo = _normalized(users[-1][1]) if users else ""
        words = ["Turn", f"{turn}.", "You", "said:", *echo.split()]
    # The first line acknowledges every attachment the request carried, so tests see the bytes reached the model.
    acknowledged = " ".join(a.acknowledgement() for m in conversation.messages for a in m.attachments).split()
    if acknowledged:
        acknowledged[-1] += "\n"
        words = [*acknowledged, *words]
    seed = f"{turn}\x00{echo}"
    length = directives.tokens or defaults.tokens
    word_rng = random.Random("words\x00" + seed)
    words += [word_rng.choice(VOCABULARY) for _ in range(max(0, length - len(words)))]

    stop_reason = SimStopReason.END_TURN
    if conversation.max_tokens is not None and conversation.max_tokens < len(words):
        words = words[: conversation.max_tokens]
        stop_reason = SimStopReason.MAX_TOKENS

    sizes = _chunk_sizes(random.Random("chunks\x00" + seed), len(words))
    ttft = (directives.ttft_ms if directives.ttft_ms is not None else defaults.ttft_ms) / 1000
    rate = directives.rate or defaults.rate
    reasoning = _reasoning_words(seed, directives.think or 0)
    reasoning_pieces = _fragments(random.Random("think\x00" + seed), " ".join(reasoning), ttft, rate)
    shift = 0.0 if math.isinf(rate) else len(reasoning) / rate
    chunks = _schedule(words, sizes, ttft, rate, shift)
    tool_call = None
    if directives.tool is not None and not results and stop_reason is SimStopReason.END_TURN:
        tool_call = _tool_call(conversation.tools, directives.tool, seed, chunks[-1].at, rate)
        stop_reason = SimStopReason.TOOL_USE
    input_words = sum(len(text.split()) for text in message_texts)
    input_words += sum(len(r.content.split()) for message in conversation.messages for r in message.tool_results)
    output_tokens = len(words) + len(reasoning) + (len(tool_call.input_json.split()) if tool_call else 0)
    return ReplyPlan(
        turn=turn,
        last_user_text=echo,
        text=_join(words),
        chunks=chunks,
        stop_reason=stop_reason,
        input_tokens=input_words,
        output_tokens=output_tokens,
        ttft=ttft,
        rate=rate,
        fail_after=directives.fail_after,
        throttle=directives.throttle,
        reasoning=" ".join(reasoning),
        reasoning_pieces=reasoning_pieces,
        signature=signature_of(" ".join(reasoning)) if reasoning else None,
        tool_call=tool_call,
        reports_cache=conversation.reports_cache,
    )


def _reasoning_words(seed: str, count: int) -> list[str]:
    rng = random.Random("reasoning\x00" + seed)
    return ["Thinking:", *(rng.choice(VOCABULARY) for _ in range(count - 1))] if count else []


def _fragments(rng: random.Random, text: str, start: float, rate: float, *, max_chars: int = 9) -> tuple[Fragment, ...]:
    """`text` cut at random character offsets (inside words, escapes and numbers alike), due `1/rate` apart."""
    pieces: list[Fragment] = []
    position = 0
    step = 0.0 if math.isinf(rate) else 1 / rate
    while position < len(text):
        size = rng.randint(1, max_chars)
        pieces.append(Fragment(text[position : position + size], start + len(pieces) * step))
        position += size
    return tuple(pieces)


def signature_of(reasoning: str) -> str:
    """A deterministic stand-in for the upstream's signature over the reasoning (not a real one)."""
    return "sim-signature-" + hashlib.sha256(reasoning.encode()).hexdigest()[:32]


def _tool_call(tools: Sequence[SimTool], name: str, seed: str, after: float, rate: float) -> SimToolCall:
    tool = next((tool for tool in tools if tool.name == name), None)
    if tool is None:
        offered = ", ".join(tool.name for tool in tools) or "none"
        raise DirectiveError(f"[[sim tool={name}]]: the request offers no tool {name!r} (offered: {offered})")
    value = sample_input(tool.input_schema)
    text = json.dumps(value, ensure_ascii=False)
    key = hashlib.sha256(f"{seed}\x00{name}".encode()).hexdigest()[:24]
    fragments = _fragments(random.Random("tool\x00" + seed), text, after, rate, max_chars=6)
    return SimToolCall(key, name, value, text, fragments or (Fragment("", after),))


def sample_input(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A deterministic input for a tool: each required property gets a value of its type."""
    properties = schema.get("properties") or {}
    return {name: _sample_value(name, properties.get(name) or {}) for name in schema.get("required") or ()}


def _sample_value(name: str, schema: Mapping[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    samples: dict[str, Callable[[], Any]] = {
        # Quotes, a backslash and multi-byte characters: fragments get cut inside escapes and UTF-8 sequences.
        "string": lambda: f'{name} "naïve" ✓ \\ 🚀',
        "integer": lambda: 42,
        "number": lambda: 2.5,
        "boolean": lambda: True,
        "null": lambda: None,
        "array": lambda: [_sample_value(name, schema["items"])] if isinstance(schema.get("items"), dict) else [],
        "object": lambda: sample_input(schema),
    }
    return samples.get(str(kind), lambda: name)()


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    """Something a format sends (an event, a line, bytes) and when it is due."""

    at: float
    item: T
    completes: tuple[int, ...] = ()
    """Plan chunk indices whose text is complete once this is sent."""


def layout(
    plan: ReplyPlan,
    opening: Sequence[T],
    delta: Callable[[int, bool], T],
    closing: Sequence[T],
    before: Sequence[Timed[T]] = (),
    after: Sequence[Timed[T]] = (),
) -> list[Timed[T]]:
    """The common shape of a text stream: the opening items with the first chunk, one item per chunk sent, and
    the closing items at the end. With `fail_after` it stops after the chunks sent; the caller adds its
    format's failure, due at `plan.end_at` (when the next chunk would have been).

    `delta(index, is_last)` renders chunk `index`; `is_last` is true only for the final chunk of a stream that
    ends normally, for formats that put the stop reason on the last text item.
    `before` (reasoning) goes between the opening and the text; `after` (a tool call) between the text and the
    closing, only when the stream ends normally.
    """
    items = [Timed(plan.start_at, item) for item in opening]
    items.extend(before)
    for chunk in plan.chunks_to_send:
        is_last = not plan.fails and chunk.index == len(plan.chunks) - 1 and not after
        items.append(Timed(chunk.at, delta(chunk.index, is_last), (chunk.index,)))
    if not plan.fails:
        items.extend(after)
        items.extend(Timed(plan.end_at, item) for item in closing)
    return items
