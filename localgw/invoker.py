"""Runs Lambda handlers on a thread pool so no invocation ever blocks the event loop or another invocation.

A long streaming answer occupies one worker thread; the gateway keeps reading frames, answering @connections
calls and starting other invocations meanwhile — like Lambda, which runs each invocation in its own environment.
Each invocation also runs in a context of its own (contextvars), so nothing a handler keeps there, such as the
Powertools logger's keys (lambdas/observability.py), reaches another invocation or the next one on the same thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from localgw.functions import Function, LambdaContext


@dataclass(frozen=True, slots=True)
class Invocation:
    """The outcome of one invocation."""

    function: Function
    aws_request_id: str
    result: Any
    error: BaseException | None
    traceback: str | None
    duration_ms: float

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def timed_out(self) -> bool:
        """Ran past the function's timeout: real Lambda would have stopped it there (a thread cannot be killed)."""
        return self.duration_ms > self.function.timeout_seconds * 1000


class Invoker:
    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="localgw-lambda")

    async def invoke(self, function: Function, event: dict[str, Any]) -> Invocation:
        context = LambdaContext(function)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, contextvars.Context().run, _run, function, event, context)

    def shutdown(self) -> None:
        # Handlers still running keep their threads; nothing waits for them (Lambda would freeze them).
        self._pool.shutdown(wait=False, cancel_futures=True)


def _run(function: Function, event: dict[str, Any], context: LambdaContext) -> Invocation:
    started = time.perf_counter()
    result: Any = None
    error: BaseException | None = None
    formatted: str | None = None
    try:
        result = function.handler()(event, context)
    except Exception as exc:  # a crashing handler is an invocation error, never a gateway error
        error = exc
        formatted = "".join(traceback.format_exception(exc))
    return Invocation(
        function=function,
        aws_request_id=context.aws_request_id,
        result=result,
        error=error,
        traceback=formatted,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
