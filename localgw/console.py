"""What localgw tells the person at the terminal: one line per connect, route and disconnect.

Lines go through the `localgw` logger (the CLI gives it a short human format; tests read them with caplog).
"""

from __future__ import annotations

import logging

from localgw.close_codes import Close
from localgw.invoker import Invocation
from localgw.stats import PostTally

log = logging.getLogger("localgw")

_KIND_WIDTH = 10


def _line(kind: str, connection_id: str, text: str) -> str:
    return f"{kind:<{_KIND_WIDTH}}  {connection_id:<16}  {text}"


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KB"
    return f"{count / (1024 * 1024):.1f} MB"


def _timing(invocation: Invocation) -> str:
    text = f"{invocation.function.name} {invocation.duration_ms:.0f} ms"
    if invocation.timed_out:
        text += f" (over its {invocation.function.timeout_seconds:g} s timeout: Lambda would have stopped it)"
    return text


def _posts(tally: PostTally) -> str:
    text = f"posted {tally.frames} frame{'s' if tally.frames != 1 else ''} / {_size(tally.bytes)}"
    if tally.output_tokens:
        text = f"{tally.output_tokens} tokens · {text}"
    refused = [
        f"{count} {label}"
        for count, label in ((tally.gone, "gone"), (tally.throttled, "throttled"), (tally.too_large, "too large"))
        if count
    ]
    return text + (f" ({', '.join(refused)})" if refused else "")


class Console:
    def __init__(self, logger: logging.Logger = log) -> None:
        self._log = logger

    def banner(self, lines: list[str]) -> None:
        for text in lines:
            self._log.info(text, extra={"banner": True})

    def connected(self, connection_id: str, source_ip: str, invocation: Invocation | None) -> None:
        detail = f" · {_timing(invocation)}" if invocation is not None else ""
        self._log.info(_line("CONNECT", connection_id, f"from {source_ip}{detail}"))

    def rejected(self, connection_id: str, status: int, why: str) -> None:
        self._log.warning(_line("REJECT", connection_id, f"handshake answered {status}: {why}"))

    def routed(self, connection_id: str, route_key: str, invocation: Invocation, posts: PostTally) -> None:
        text = f"{route_key} · {_timing(invocation)} · {_posts(posts)}"
        if invocation.failed:
            self._log.error(
                _line("ERROR", connection_id, f"{text} · crashed: client got 'Internal server error'")
                + f"\n{invocation.traceback}"
            )
        elif invocation.timed_out:
            self._log.warning(_line("MESSAGE", connection_id, text))
        else:
            self._log.info(_line("MESSAGE", connection_id, text))

    def unrouted(self, connection_id: str, selection: str | None) -> None:
        self._log.warning(_line("MESSAGE", connection_id, f"no route for {selection!r} and no $default: 'Forbidden'"))

    def crashed(self, connection_id: str, what: str, invocation: Invocation) -> None:
        self._log.error(_line("ERROR", connection_id, f"{what} · {_timing(invocation)}") + f"\n{invocation.traceback}")

    def closing(self, connection_id: str, cause: str, close: Close) -> None:
        self._log.info(_line("CLOSE", connection_id, f"{cause}: server closes with {close.code} {close.reason}"))

    def disconnected(self, connection_id: str, close: Close, invocation: Invocation | None) -> None:
        detail = f" · {_timing(invocation)}" if invocation is not None else ""
        self._log.info(_line("DISCONNECT", connection_id, f"{close.code} {close.reason}{detail}"))

    def http(self, method: str, path: str, status: int, duration_ms: float, request_id: str | None) -> None:
        """One request to the OpenAI-compatible HTTP API (lambdas.openai_http), once its response ended."""
        text = f"{method} {path} → {status} · {duration_ms:.0f} ms"
        self._log.log(logging.WARNING if status >= 500 else logging.INFO, _line("HTTP", request_id or "-", text))
