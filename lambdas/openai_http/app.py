"""The aiohttp application of the OpenAI-compatible channel: `POST /chat/completions` and `GET /models`, mounted at
`/v1` (the Lambda behind the Lambda Web Adapter: `lambdas.openai_http.server`; localgw: `/{stage}/v1`).

Every request is authenticated here with the verifier `$connect` uses (`lambdas.auth`): the same tokens open a
WebSocket and call this API, and the API Gateway authorizer in front of the Lambda is a first gate, not the only
one. Blocking work (the verifier's JWKS fetch, DynamoDB) runs off the event loop.

A streamed answer's headers are sent with its first text: an error before it (a spent quota, a throttled model) is
still an ordinary HTTP error with its status, which the SDKs raise as a typed exception; an error after it is a
final SSE event carrying OpenAI's error object, then the stream ends. An answer silent for `sse_keepalive_seconds`
sends its headers then, with an SSE comment (`: keep-alive`), and another after each such silence: API Gateway
closes a stream idle for 5 minutes, and proxies on the way often sooner.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from lambdas import auth, protocol
from lambdas.answer.tools import check_capabilities
from lambdas.catalogue import CatalogueError, UnknownModelError, load_catalogue, resolve_spec
from lambdas.config import settings
from lambdas.observability import count, logger
from lambdas.openai_http.answer import END, IDLE, REASONING, TEXT, TOOL_USE, HttpAnswer, HttpSink, QuotaLease
from lambdas.openai_http.chunks import DONE_EVENT, KEEP_ALIVE, Completion, is_time_limit, sse
from lambdas.openai_http.errors import SERVER, ApiError, from_frame, unauthorized, unknown_model
from lambdas.openai_http.mapping import capability_error, map_request
from lambdas.openai_http.schema import parse_request
from lambdas.providers.registry import resolve
from lambdas.requests import BadRequestError
from lambdas.store import shared
from lambdas.store.errors import QuotaExceededError, QuotaUnavailableError

MAX_BODY_BYTES = 1024 * 1024
"""The longest body: the largest request the limits allow (text, system prompt and history) fits with room."""
LAMBDA_CONTEXT_HEADER = "x-amzn-lambda-context"
"""The Lambda Web Adapter forwards the invocation's context here, `deadline` in epoch ms (its src/lib.rs)."""
ANONYMOUS = "anonymous"
SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    # No proxy on the way may hold the events back.
    "X-Accel-Buffering": "no",
}
OWNER = "ws-llm-relay"


@dataclass(frozen=True, slots=True)
class AppOptions:
    authenticate: bool = True
    """Verify `Authorization: Bearer <JWT>` (localgw's --no-auth turns it off: every caller is `anonymous`)."""
    timeout_s: float = 300.0
    """The function's timeout: the time guard counts from the request's arrival when no Lambda context says more."""
    trust_lambda_context: bool = False
    """Read the deadline from the Lambda Web Adapter's header (only in the Lambda, where the adapter sets it)."""


def create_app(options: AppOptions | None = None) -> web.Application:
    """The channel's routes, relative to the mount point (`/v1`)."""
    options = options or AppOptions()
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[_openai_errors])
    api = _Api(options)
    app.router.add_post("/chat/completions", api.chat_completions)
    app.router.add_get("/models", api.models)
    return app


@web.middleware
async def _openai_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp's own refusals (no such path, wrong method, body too large) and any bug, in OpenAI's shape."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "unknown_url", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status)
        kind = "invalid_request_error" if exc.status < 500 else SERVER
        message = f"{request.method} {request.path}: {exc.reason}"
        return error_response(ApiError(exc.status, message, kind, code))
    except ConnectionResetError:
        # The client left before its body arrived whole: nothing failed here, and nobody reads an answer.
        logger.info("the client left before its request was read")
        return error_response(ApiError(400, "The request was not received whole.", "invalid_request_error"))
    except Exception:
        logger.exception("HTTP request failed")
        return error_response(ApiError(500, "The relay failed; try again.", SERVER, protocol.ErrorCode.INTERNAL))


def error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status, headers=error.headers())


class _Api:
    def __init__(self, options: AppOptions) -> None:
        self._options = options

    async def models(self, request: web.Request) -> web.Response:
        await self._caller(request)
        try:
            catalogue = load_catalogue()
        except CatalogueError:
            logger.exception("the model catalogue is invalid")
            raise ApiError(500, "The relay's model configuration is invalid.", SERVER, "internal") from None
        data = [{"id": alias, "object": "model", "created": 0, "owned_by": OWNER} for alias in catalogue.models]
        return web.json_response({"object": "list", "data": data})

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        remaining_ms = self._remaining_ms(request, started)
        user = await self._caller(request)
        config = settings()
        mapped = map_request(parse_request(await request.read()), config)
        try:
            alias, provider = resolve(mapped.model)
            spec = resolve_spec(alias)
            if mapped.tool_fields.asked:
                check_capabilities(mapped.tool_fields, spec, None)
            if mapped.request.stop_sequences and not spec.supports_stop_sequences:
                raise capability_error("stop", f"stop: model {alias!r} does not support stop sequences")
        except UnknownModelError as exc:
            raise unknown_model(str(exc)) from None
        except BadRequestError as exc:  # the model cannot do what was asked (tools, reasoning)
            raise capability_error(exc.field, str(exc)) from None
        except CatalogueError:
            logger.exception("the model catalogue is invalid")
            raise ApiError(500, "The relay's model configuration is invalid.", SERVER, "internal") from None
        request_id = f"http-{protocol.new_request_id()}"
        # The store's first use builds its DynamoDB client: off the event loop, like every call to it.
        lease = await asyncio.to_thread(lambda: QuotaLease(shared(), user, request_id))
        max_tokens = await _take(lease, mapped.request.max_tokens, remaining_ms() / 1000)
        count("HttpAnswers")
        sink = HttpSink(request_id, asyncio.get_running_loop())
        answer = HttpAnswer(
            provider,
            replace(mapped.request, max_tokens=max_tokens),
            sink,
            remaining_ms=remaining_ms,
            time_guard_ms=config.time_guard_ms,
            lease=lease,
            started_at=started,
        )
        answer.start()
        completion = Completion(f"chatcmpl-{request_id}", int(time.time()), alias)
        if mapped.stream:
            keepalive = config.sse_keepalive_seconds
            return await _stream(request, answer, completion, include_usage=mapped.include_usage, keepalive_s=keepalive)
        return await _whole(request, answer, completion)

    async def _caller(self, request: web.Request) -> str:
        """The caller's user id, from the token the `$connect` verifier accepts; ApiError 401 otherwise."""
        if not self._options.authenticate:
            return ANONYMOUS
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("No token: send `Authorization: Bearer <JWT>` (the token that opens a WebSocket).")
        try:
            identity = await asyncio.to_thread(auth.verify, token.strip())
        except (auth.JwksUnavailableError, auth.AuthNotConfiguredError):
            logger.exception("authentication is unavailable")
            message = "Authentication is unavailable right now; try again."
            raise ApiError(503, message, SERVER, "auth_unavailable") from None
        except auth.AuthError as exc:
            count("HttpRequestsDenied")
            logger.info("HTTP request denied", extra={"reason": exc.reason})
            raise unauthorized(f"The token was refused ({exc.reason}).") from None
        return identity.user_id

    def _remaining_ms(self, request: web.Request, started: float) -> Callable[[], int]:
        deadline_ms = _lambda_deadline_ms(request) if self._options.trust_lambda_context else None
        if deadline_ms is not None:
            return lambda: max(0, int(deadline_ms - time.time() * 1000))
        local_deadline = started + self._options.timeout_s
        return lambda: max(0, int((local_deadline - time.monotonic()) * 1000))


async def _take(lease: QuotaLease, max_tokens: int, remaining_s: float) -> int:
    try:
        return await asyncio.to_thread(lease.take, max_tokens, remaining_s)
    except QuotaExceededError as exc:
        message = f"Quota reached ({exc.quota}: {exc.limit}); retry in {exc.retry_after_s} s."
        code = protocol.ErrorCode.RATE_LIMITED
        raise ApiError(429, message, "rate_limit_error", code, None, exc.retry_after_s) from None
    except QuotaUnavailableError:
        logger.exception("could not read or take the quota")
        raise ApiError(503, "The relay could not start this answer; try again shortly.", SERVER, "internal") from None


def _lambda_deadline_ms(request: web.Request) -> float | None:
    raw = request.headers.get(LAMBDA_CONTEXT_HEADER)
    if not raw:
        return None
    try:
        context = json.loads(raw)
    except ValueError:
        return None
    deadline = context.get("deadline", context.get("deadline_ms")) if isinstance(context, dict) else None
    return float(deadline) if isinstance(deadline, int | float) and deadline > 0 else None


def time_limit_error() -> ApiError:
    return ApiError(
        503,
        "The answer reached the relay's time limit (the function's timeout is near) and was stopped there; the text "
        "sent so far is all of it. Ask for fewer tokens, or continue in a new request.",
        SERVER,
        "time_limit",
    )


def _terminal_error(frame: dict[str, Any]) -> ApiError | None:
    """The error a terminal frame means, or None for a completed answer."""
    if frame.get("type") == "error":
        return from_frame(frame)
    if is_time_limit(frame):
        return time_limit_error()
    return None


def _connected(request: web.Request) -> Callable[[], bool]:
    def connected() -> bool:
        transport = request.transport
        return transport is not None and not transport.is_closing()

    return connected


async def _stream(
    request: web.Request, answer: HttpAnswer, completion: Completion, *, include_usage: bool, keepalive_s: float
) -> web.StreamResponse:
    response: web.StreamResponse | None = None

    async def opened() -> web.StreamResponse:
        nonlocal response
        if response is None:
            response = web.StreamResponse(status=200, headers={**SSE_HEADERS, "x-request-id": answer.sink.request_id})
            await response.prepare(request)
            await response.write(sse(completion.first()))
        return response

    calls = 0
    try:
        async for kind, value in answer.items(_connected(request), idle_s=keepalive_s):
            if kind == TEXT:
                await (await opened()).write(sse(completion.text(value)))
                continue
            if kind == IDLE:
                # Opens the stream when nothing was sent yet: an error after this is an error event, not a status.
                await (await opened()).write(KEEP_ALIVE)
                continue
            if kind == REASONING:
                await (await opened()).write(sse(completion.reasoning(value)))
                continue
            if kind == TOOL_USE:
                await (await opened()).write(sse(completion.tool_call(calls, value)))
                calls += 1
                continue
            assert kind == END
            error = _terminal_error(value)
            if error is not None and response is None:
                return error_response(error)  # nothing sent yet: an ordinary HTTP error
            stream = await opened()
            if error is not None:
                await stream.write(sse(error.body()))
            else:
                await stream.write(sse(completion.finish(value)))
                if include_usage:
                    await stream.write(sse(completion.usage_chunk(value)))
                await stream.write(DONE_EVENT)
            await stream.write_eof()
            return stream
    except ConnectionResetError:  # the client left while text was being written
        pass
    except asyncio.CancelledError:
        answer.sink.leave()
        raise
    answer.sink.leave()  # the relay loop closes the model's stream at its next tick
    return response or web.Response(status=499)


async def _whole(request: web.Request, answer: HttpAnswer, completion: Completion) -> web.StreamResponse:
    parts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    try:
        async for kind, value in answer.items(_connected(request)):
            if kind == TEXT:
                parts.append(value)
            elif kind == REASONING:
                reasoning.append(value)
            elif kind == TOOL_USE:
                calls.append(value)
            else:
                error = _terminal_error(value)
                if error is not None:
                    return error_response(error)
                whole = completion.whole("".join(parts), value, "".join(reasoning), calls)
                return web.json_response(whole, headers={"x-request-id": answer.sink.request_id})
    except asyncio.CancelledError:
        answer.sink.leave()
        raise
    answer.sink.leave()
    return web.Response(status=499)
