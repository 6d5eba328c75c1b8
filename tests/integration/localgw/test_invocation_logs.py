"""Concurrent invocations in localgw's one process log with their own Lambda context and correlation id
(lambdas/observability.py keeps the logger's keys per invocation; localgw/invoker.py runs each in its own context)."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_lambda_powertools.logging import correlation_paths

from lambdas.observability import in_this_invocation, logger
from localgw.functions import Function
from localgw.invoker import Invoker


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """`log_lines()`: the logger's JSON lines written so far in the test."""
    stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(stream)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]

    yield lines
    handler.setStream(previous)


def function(name: str, handler: Any) -> Function:
    return Function(
        name=name,
        handler_path="inline",
        timeout_seconds=30,
        memory_mb=128,
        region="us-east-1",
        account_id="123456789012",
        injected=handler,
    )


def event(request_id: str) -> dict[str, Any]:
    return {"requestContext": {"requestId": request_id, "connectionId": f"conn-{request_id}"}}


def test_concurrent_invocations_log_their_own_context(log_lines) -> None:
    # Both handlers log once their contexts are both injected, then again from a thread of their own.
    both_started = threading.Barrier(2, timeout=10)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def handler(event: dict[str, Any], context: Any) -> str:
        logger.warning("first")
        both_started.wait()
        logger.warning("second")
        worker = threading.Thread(target=in_this_invocation(lambda: logger.warning("from a thread")))
        worker.start()
        worker.join()
        return logger.get_correlation_id() or ""

    send, leave = function("WsRelay-SendText", handler), function("WsRelay-Disconnect", handler)
    invoker = Invoker(workers=2)

    async def both() -> list[Any]:
        return await asyncio.gather(invoker.invoke(send, event("req-send")), invoker.invoke(leave, event("req-leave")))

    try:
        send_result, leave_result = asyncio.run(both())
    finally:
        invoker.shutdown()
    assert not send_result.failed and not leave_result.failed, send_result.traceback or leave_result.traceback
    assert (send_result.result, leave_result.result) == ("req-send", "req-leave")

    logger.warning("between invocations")
    outside = [line for line in log_lines() if line["message"] == "between invocations"]
    mine = [line for line in log_lines() if line["message"] != "between invocations"]
    assert len(mine) == 6
    by_function: dict[str, set[Any]] = {}
    for line in mine:
        by_function.setdefault(line["function_name"], set()).add((line["correlation_id"], line["function_request_id"]))
    assert by_function == {
        "WsRelay-SendText": {("req-send", send_result.aws_request_id)},
        "WsRelay-Disconnect": {("req-leave", leave_result.aws_request_id)},
    }
    # Once the invocations ended, nothing of theirs is left on the logger.
    assert "function_name" not in outside[0] and "correlation_id" not in outside[0]


def test_an_invocation_on_a_reused_worker_starts_without_the_last_ones_keys(log_lines) -> None:
    def appends(event: dict[str, Any], context: Any) -> None:
        logger.append_keys(leftover="from the first")
        logger.warning("first")

    def plain(event: dict[str, Any], context: Any) -> None:
        logger.warning("second")

    invoker = Invoker(workers=1)
    try:
        asyncio.run(invoker.invoke(function("WsRelay-A", appends), event("a")))
        asyncio.run(invoker.invoke(function("WsRelay-B", plain), event("b")))
    finally:
        invoker.shutdown()
    logger.warning("done")
    first, second = (line for line in log_lines() if line["message"] in ("first", "second"))
    assert first["leftover"] == "from the first"
    assert "leftover" not in second
