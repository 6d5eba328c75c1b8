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
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Generic, TypeVar

from .directives import extract_all

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


@dataclass(frozen=True, slots=True)
class SimMessage:
    role: str
    """`user` or `assistant`."""
    text: str


@dataclass(frozen=True, slots=True)
class SimConversation:
    """A request normalized from any wire format, directives still inside the texts."""

    messages: tuple[SimMessage, ...]
    system: str | None = None
    max_tokens: int | None = None

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


def _schedule(words: Sequence[str], sizes: Sequence[int], ttft: float, rate: float) -> tuple[Chunk, ...]:
    chunks: list[Chunk] = []
    start = 0
    for index, size in enumerate(sizes):
        # Words generated after the first chunk cost 1/rate seconds each.
        generated_after_first = start + size - sizes[0]
        at = ttft if math.isinf(rate) else ttft + generated_after_first / rate
        text = " ".join(words[start : start + size])
        chunks.append(Chunk(index, text if index == 0 else " " + text, size, at))
        start += size
    return tuple(chunks)


def plan_reply(conversation: SimConversation, defaults: Defaults = Defaults()) -> ReplyPlan:
    """The reply the simulator streams for `conversation`. Raises `DirectiveError` for a bad directive."""
    texts = [conversation.system or ""] + [message.text for message in conversation.messages]
    stripped, directives = extract_all(texts)
    message_texts = stripped[1:]
    if conversation.max_tokens is not None and conversation.max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {conversation.max_tokens}")

    user_texts = [
        text for message, text in zip(conversation.messages, message_texts, strict=True) if message.role == "user"
    ]
    turn = len(user_texts)
    echo = _normalized(user_texts[-1]) if user_texts else ""
    seed = f"{turn}\x00{echo}"

    words = ["Turn", f"{turn}.", "You", "said:", *echo.split()]
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
    return ReplyPlan(
        turn=turn,
        last_user_text=echo,
        text=" ".join(words),
        chunks=_schedule(words, sizes, ttft, rate),
        stop_reason=stop_reason,
        input_tokens=sum(len(text.split()) for text in message_texts),
        output_tokens=len(words),
        ttft=ttft,
        rate=rate,
        fail_after=directives.fail_after,
        throttle=directives.throttle,
    )


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timed(Generic[T]):
    """Something a format sends (an event, a line, bytes) and when it is due."""

    at: float
    item: T
    completes: tuple[int, ...] = ()
    """Plan chunk indices whose text is complete once this is sent."""


def layout(
    plan: ReplyPlan, opening: Sequence[T], delta: Callable[[int, bool], T], closing: Sequence[T]
) -> list[Timed[T]]:
    """The common shape of a text stream: the opening items with the first chunk, one item per chunk sent, and
    the closing items at the end. With `fail_after` it stops after the chunks sent; the caller adds its
    format's failure, due at `plan.end_at` (when the next chunk would have been).

    `delta(index, is_last)` renders chunk `index`; `is_last` is true only for the final chunk of a stream that
    ends normally, for formats that put the stop reason on the last text item.
    """
    items = [Timed(plan.chunks[0].at, item) for item in opening]
    for chunk in plan.chunks_to_send:
        is_last = not plan.fails and chunk.index == len(plan.chunks) - 1
        items.append(Timed(chunk.at, delta(chunk.index, is_last), (chunk.index,)))
    if not plan.fails:
        items.extend(Timed(plan.end_at, item) for item in closing)
    return items
