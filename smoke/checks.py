"""The checks, in order, each through the Python client library (`relay_client`) as an application would talk to the
relay. Each returns a short detail on success and raises `CheckFailed` (or any exception) with the reason otherwise.

The questions carry simulator directives (`[[sim ...]]`, docs/simulator.md) only against localgw; a deployed model
gets plain questions, and the cancel check asks for something long enough to cancel.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from relay_client import BadRequestError, RelayClient, RelayError, Text, UnauthorizedError
from relay_client.errors import ForbiddenError

from smoke.target import Target

ANSWER_TIMEOUT_S = 120.0


class CheckFailed(AssertionError):
    """A check saw the relay do something else than it should."""


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    ok: bool
    seconds: float
    detail: str

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        return f"{mark} {self.name:<26} {self.seconds:6.2f} s  {self.detail}"


Check = Callable[["Smoke"], Awaitable[str]]


class Smoke:
    """One connected client shared by the checks that need one; `run` goes through `CHECKS` in order."""

    def __init__(self, target: Target, model: str | None = None) -> None:
        self.target = target
        self.model = model
        self.client: RelayClient | None = None

    def question(self, plain: str, directive: str) -> str:
        return f"{plain} [[sim {directive}]]" if self.target.local else plain

    def new_client(self, token: str | None, **options: Any) -> RelayClient:
        return RelayClient(self.target.url, token=token, open_timeout=15, request_timeout=30, **options)

    async def connected(self) -> RelayClient:
        if self.client is None:
            raise CheckFailed("no connection (the connect check failed)")
        return self.client

    async def run(self, checks: list[tuple[str, Check]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            for name, check in checks:
                started = time.monotonic()
                try:
                    detail = await asyncio.wait_for(check(self), ANSWER_TIMEOUT_S)
                    ok = True
                except TimeoutError:
                    ok, detail = False, f"no result within {ANSWER_TIMEOUT_S:g} s"
                except (CheckFailed, RelayError) as exc:
                    ok, detail = False, str(exc)
                except Exception as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                outcomes.append(Outcome(name, ok, time.monotonic() - started, detail))
                print(outcomes[-1].line(), flush=True)
        finally:
            if self.client is not None:
                await self.client.close()
        return outcomes


async def check_connect(smoke: Smoke) -> str:
    client = smoke.new_client(smoke.target.token, max_attempts=1)
    try:
        await client.connect()
    except (UnauthorizedError, ForbiddenError) as exc:
        raise CheckFailed(f"the token was refused ({exc}): is it expired, or for another issuer?") from exc
    smoke.client = client
    return "connected with the token" if smoke.target.token else "connected without a token"


async def check_models(smoke: Smoke) -> str:
    models = await (await smoke.connected()).models()
    if not models:
        raise CheckFailed("the relay lists no model")
    defaults = [model.id for model in models if model.default]
    if smoke.model and smoke.model not in {model.id for model in models}:
        raise CheckFailed(f"--model {smoke.model!r} is not among {[model.id for model in models]}")
    return f"{len(models)} model(s), default {defaults[0] if defaults else 'none'}"


async def check_answer(smoke: Smoke) -> str:
    client = await smoke.connected()
    answer = await client.ask(smoke.question("Reply with one short sentence.", "tokens=30"), model=smoke.model)
    result = await answer.result()
    frames = [frame async for frame in answer.frames()]
    seqs = [frame.get("seq") for frame in frames]
    if seqs != list(range(len(frames))):
        raise CheckFailed(f"seq is not 0, 1, 2, ... without a gap: {seqs[:20]}")
    if frames[0].get("type") != "start" or frames[-1].get("type") != "done":
        raise CheckFailed(f"frames run {frames[0].get('type')} … {frames[-1].get('type')}, not start … done")
    if not result.text.strip():
        raise CheckFailed("the answer is empty")
    return f"{len(frames)} frames, seq 0-{seqs[-1]}, stopReason {result.stop_reason}, model {result.model}"


async def _first_text(answer: Any) -> None:
    async for event in answer:
        if isinstance(event, Text):
            return
    raise CheckFailed("the answer ended before its first text")


async def check_cancel(smoke: Smoke) -> str:
    client = await smoke.connected()
    answer = await client.ask(
        smoke.question("Count from 1 to 2000, one number per line.", "tokens=3000 rate=200"),
        model=smoke.model,
        max_tokens=4000,
    )
    await _first_text(answer)
    await answer.cancel()
    result = await answer.result()
    if result.stop_reason != "cancelled":
        raise CheckFailed(f"ended with stopReason {result.stop_reason!r}, not 'cancelled'")
    return f"stopReason cancelled after {len(result.text)} characters"


async def check_resume(smoke: Smoke) -> str:
    """An answer whose socket drops mid-stream: the client reconnects and resumes, and nothing is lost or doubled."""
    client = smoke.new_client(smoke.target.token)
    try:
        await client.connect()
        answer = await client.ask(
            smoke.question("Write four sentences about rivers.", "tokens=400 rate=100"), model=smoke.model
        )
        await _first_text(answer)
        dropped = client.connection
        if dropped is None:
            raise CheckFailed("no open connection to drop")
        dropped.transport.abort()  # the network goes away: no close frame
        result = await answer.result()
        frames = [frame async for frame in answer.frames()]
        if [frame.get("seq") for frame in frames] != list(range(len(frames))) or not result.text:
            raise CheckFailed("the resumed answer has a gap or a repeat in seq")
        if client.token_calls < 2:
            raise CheckFailed("the answer ended before the connection was dropped: nothing was resumed")
        return (
            f"reconnected, {len(frames)} frames in order, stopReason {result.stop_reason}, "
            f"{answer.duplicates} duplicate(s) dropped"
        )
    finally:
        await client.close()


async def check_unauthenticated(smoke: Smoke) -> str:
    client = smoke.new_client(None, max_attempts=1)
    try:
        await client.connect()
    except (UnauthorizedError, ForbiddenError) as exc:
        return f"refused: {exc.message}"
    else:
        raise CheckFailed("a connection without a token was accepted")
    finally:
        await client.close()


async def check_bad_request(smoke: Smoke) -> str:
    client = await smoke.connected()
    answer = await client.ask("hello", model=smoke.model, max_tokens=-1)
    try:
        await answer.result()
    except BadRequestError as exc:
        if exc.field != "maxTokens":
            raise CheckFailed(f"bad_request names field {exc.field!r}, not 'maxTokens'") from exc
        return "bad_request naming maxTokens"
    raise CheckFailed("maxTokens = -1 was answered")


# The OpenAI-compatible HTTP API, when the stack has one: the same token, plain HTTP (urllib, on a worker thread).

HTTP_TIMEOUT_S = 60.0


def _http(smoke: Smoke, method: str, path: str, body: dict[str, Any] | None, token: str | None) -> tuple[int, bytes]:
    assert smoke.target.http_url is not None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{smoke.target.http_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
        method=method,
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({})) if smoke.target.local else None
    try:
        with (opener.open if opener else urllib.request.urlopen)(request, timeout=HTTP_TIMEOUT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def check_http_models(smoke: Smoke) -> str:
    status, body = await asyncio.to_thread(_http, smoke, "GET", "/models", None, smoke.target.token)
    if status != 200:
        raise CheckFailed(f"GET /v1/models answered {status}: {body[:200]!r}")
    models = [model.get("id") for model in json.loads(body).get("data", [])]
    if not models:
        raise CheckFailed("GET /v1/models lists no model")
    return f"{len(models)} model(s)"


async def check_http_answer(smoke: Smoke) -> str:
    request = {
        "model": smoke.model or await _default_model(smoke),
        "messages": [{"role": "user", "content": smoke.question("Reply with one short sentence.", "tokens=30")}],
        "stream": True,
    }
    status, body = await asyncio.to_thread(_http, smoke, "POST", "/chat/completions", request, smoke.target.token)
    if status != 200:
        raise CheckFailed(f"POST /v1/chat/completions answered {status}: {body[:200]!r}")
    events = [line[6:] for line in body.decode().splitlines() if line.startswith("data: ")]
    if not events or events[-1] != "[DONE]":
        raise CheckFailed("the stream did not end with data: [DONE]")
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(
        choice.get("delta", {}).get("content") or "" for chunk in chunks for choice in chunk.get("choices", [])
    )
    reasons = [choice.get("finish_reason") for chunk in chunks for choice in chunk.get("choices", [])]
    if not text.strip():
        raise CheckFailed("the streamed answer is empty")
    return f"{len(chunks)} chunks, finish_reason {next((r for r in reasons if r), None)}"


async def check_http_unauthenticated(smoke: Smoke) -> str:
    status, _ = await asyncio.to_thread(_http, smoke, "GET", "/models", None, None)
    if status not in (401, 403):
        raise CheckFailed(f"GET /v1/models without a token answered {status}")
    return f"refused ({status})"


async def _default_model(smoke: Smoke) -> str:
    """The relay's default model (the WebSocket side marks it); else the HTTP API's first."""
    if smoke.client is not None:
        models = await smoke.client.models()
        return next((model.id for model in models if model.default), models[0].id)
    status, body = await asyncio.to_thread(_http, smoke, "GET", "/models", None, smoke.target.token)
    if status != 200:
        raise CheckFailed(f"no model to ask: GET /v1/models answered {status}")
    return str(json.loads(body)["data"][0]["id"])


HTTP_CHECKS: list[tuple[str, Check]] = [
    ("HTTP models", check_http_models),
    ("HTTP answer (streamed)", check_http_answer),
    ("HTTP unauthenticated", check_http_unauthenticated),
]


CHECKS: list[tuple[str, Check]] = [
    ("connect", check_connect),
    ("models", check_models),
    ("answer", check_answer),
    ("cancel", check_cancel),
    ("resume after a drop", check_resume),
    ("unauthenticated refused", check_unauthenticated),
    ("bad message → bad_request", check_bad_request),
]
