"""The functions' Powertools logger and metrics (service and namespace from POWERTOOLS_* variables).

Logs never carry prompt or answer text: only ids, sizes, counts and timings.

The logger's keys (the Lambda context, the correlation id, anything a handler appends) belong to the invocation that
set them: Powertools' `Logger` keeps appended keys in its one formatter, shared by every thread, so in localgw, which
runs many invocations on threads of one process, one function's context showed up in another's lines. On Lambda an
execution environment runs one invocation at a time, and its lines read the same either way.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "WsRelay"
SERVICE = "ws-relay"


class InvocationLogger(Logger):
    """Powertools' Logger with per-invocation keys: `append_keys` (and so `set_correlation_id` and
    `inject_lambda_context`) stores them in Powertools' context-local keys (`thread_safe_append_keys`), and every
    invocation `inject_lambda_context` wraps starts and ends with none. Threads a handler starts see the keys when
    started through `in_this_invocation`."""

    def append_keys(self, **additional_keys: object) -> None:
        self.thread_safe_append_keys(**additional_keys)

    def get_current_keys(self) -> dict[str, Any]:
        return {**super().get_current_keys(), **self.thread_safe_get_current_keys()}

    def remove_keys(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        self.thread_safe_remove_keys(keys)
        super().remove_keys(keys)

    def get_correlation_id(self) -> str | None:
        return self.thread_safe_get_current_keys().get("correlation_id") or super().get_correlation_id()

    def inject_lambda_context(self, lambda_handler: Any = None, **options: Any) -> Any:  # type: ignore[override]
        if lambda_handler is None:
            return functools.partial(self.inject_lambda_context, **options)
        decorated = super().inject_lambda_context(lambda_handler, **options)

        @functools.wraps(lambda_handler)
        def invocation(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            # A worker thread serves one invocation after another: none of the last one's keys may stay.
            self.thread_safe_clear_keys()
            try:
                return decorated(event, context, *args, **kwargs)
            finally:
                self.thread_safe_clear_keys()

        return invocation


logger = InvocationLogger(service=SERVICE)


def in_this_invocation(target: Callable[..., Any]) -> Callable[..., Any]:
    """`target` bound to the current invocation's log keys, for a thread the invocation starts (a new thread starts
    with none): `threading.Thread(target=in_this_invocation(run))`, `pool.submit(in_this_invocation(fn), ...)`."""
    context = contextvars.copy_context()

    @functools.wraps(target)
    def run(*args: Any, **kwargs: Any) -> Any:
        # A Context can be entered by one thread at a time: each call runs in its own copy.
        return context.copy().run(target, *args, **kwargs)

    return run


def new_metrics() -> EphemeralMetrics:
    """A set of metrics for one event (an answer, a connection), flushed by the caller.

    Ephemeral (isolated) rather than the shared `Metrics`: localgw runs many invocations in one process, where a
    shared set would mix their figures and dimensions."""
    return EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str, **dimensions: str) -> None:
    """Publish one occurrence of `name` now (EMF), with `dimensions` besides the service."""
    metrics = new_metrics()
    for key, value in dimensions.items():
        metrics.add_dimension(name=key, value=value)
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
