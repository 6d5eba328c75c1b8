"""The functions' Powertools logger and metrics (service and namespace from POWERTOOLS_* variables).

Logs never carry prompt or answer text: only ids, sizes, counts and timings.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "WsRelay"
SERVICE = "ws-relay"

logger = Logger(service=SERVICE)


def new_metrics() -> EphemeralMetrics:
    """A set of metrics for one event (an answer, a connection), flushed by the caller.

    Ephemeral (isolated) rather than the shared `Metrics`: localgw runs many invocations in one process, where a
    shared set would mix their figures and dimensions."""
    return EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str) -> None:
    """Publish one occurrence of `name` now (EMF)."""
    metrics = new_metrics()
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
