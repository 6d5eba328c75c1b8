"""`[[sim ...]]` directives: how a test or a person steers the simulator from inside an ordinary prompt.

A directive may sit anywhere in any message text or the system prompt, so it travels through every wire format
(including prompt templates) unchanged. It is stripped before the text is echoed or counted.

    [[sim tokens=40 rate=100000 ttft=0 fail_after=3 throttle think=20 tool=calculator]]

Later directives override earlier ones key by key (system prompt first, then messages in order).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from typing import Final

DIRECTIVE_PATTERN: Final = re.compile(r"\[\[sim\b(?P<body>[^\]]*)\]\]")
_OPENING: Final = re.compile(r"\[\[sim\b")
MAX_TOKENS: Final = 100_000
"""Longest reply a directive may ask for: the plan is built in memory up front."""


class DirectiveError(ValueError):
    """A `[[sim ...]]` directive the simulator cannot honour; the message names the bad part."""


@dataclass(frozen=True, slots=True)
class Directives:
    """Settings a request asked for; `None` means "the simulator's default"."""

    tokens: int | None = None
    """Reply length in words (echo included)."""
    rate: float | None = None
    """Words per second after the first chunk; `math.inf` means no pacing."""
    ttft_ms: float | None = None
    """Delay before the first chunk, in milliseconds."""
    fail_after: int | None = None
    """Fail mid-stream after this many text chunks."""
    throttle: int | None = None
    """Refuse with a throttling error before the stream: `0` means always, `N` the first N identical requests."""
    think: int | None = None
    """Stream this many reasoning words (with a signature) before the answer."""
    tool: str | None = None
    """Call this tool of the request's `tools` after the text, then stop with tool_use."""

    def merged(self, later: Directives) -> Directives:
        """These settings overridden by every key `later` sets."""
        changes = {f.name: getattr(later, f.name) for f in fields(later) if getattr(later, f.name) is not None}
        return replace(self, **changes)


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isdigit() or int(raw) < minimum:
            raise ValueError(f"expected a whole number >= {minimum}")
        if maximum is not None and int(raw) > maximum:
            raise ValueError(f"expected a whole number <= {maximum}")
        return int(raw)

    return parse


def _rate(raw: str) -> float:
    if raw.lower() in ("inf", "infinity"):
        return math.inf
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected a number of tokens per second, or inf") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("expected a number of tokens per second >= 0, or inf")
    # rate=0 reads naturally as "don't pace me" in a test; a stream that never ends helps nobody.
    return math.inf if value == 0 else value


def _milliseconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("expected milliseconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("expected milliseconds >= 0")
    return value


def _tool_name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", raw):
        raise ValueError("expected a tool name (1-64 letters, digits, '_' or '-')")
    return raw


# key in the directive -> (field of Directives, parser of the value)
_KEYS: Final[dict[str, tuple[str, Callable[[str], object]]]] = {
    "tokens": ("tokens", _whole(1, MAX_TOKENS)),
    "rate": ("rate", _rate),
    "ttft": ("ttft_ms", _milliseconds),
    "fail_after": ("fail_after", _whole(0)),
    "throttle": ("throttle", _whole(1)),
    "think": ("think", _whole(1, MAX_TOKENS)),
    "tool": ("tool", _tool_name),
}
_BARE_FLAGS: Final[dict[str, tuple[str, object]]] = {"throttle": ("throttle", 0)}


def _parse_body(body: str, original: str) -> Directives:
    values: dict[str, object] = {}
    for item in body.split():
        key, sep, raw = item.partition("=")
        if not sep:
            if key not in _BARE_FLAGS:
                raise DirectiveError(f"{original}: {key!r} needs a value ({key}=...)")
            name, value = _BARE_FLAGS[key]
            values[name] = value
            continue
        if key not in _KEYS:
            raise DirectiveError(f"{original}: unknown key {key!r} (known: {', '.join(_KEYS)})")
        name, parse = _KEYS[key]
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            raise DirectiveError(f"{original}: bad value {item!r}: {exc}") from None
    return Directives(**values)  # type: ignore[arg-type]


def extract(text: str) -> tuple[str, Directives]:
    """The text without its directives, and the settings they asked for (later ones win)."""
    found = Directives()
    for match in DIRECTIVE_PATTERN.finditer(text):
        found = found.merged(_parse_body(match.group("body"), match.group(0)))
    stripped = DIRECTIVE_PATTERN.sub(" ", text)
    leftover = _OPENING.search(stripped)
    if leftover:
        snippet = stripped[leftover.start() : leftover.start() + 40]
        raise DirectiveError(f"unterminated directive {snippet!r}: expected [[sim key=value ...]]")
    return stripped, found


def extract_all(texts: Iterable[str]) -> tuple[list[str], Directives]:
    """`extract` over several texts in order; later texts override earlier ones."""
    merged = Directives()
    stripped: list[str] = []
    for text in texts:
        clean, found = extract(text)
        stripped.append(clean)
        merged = merged.merged(found)
    return stripped, merged
