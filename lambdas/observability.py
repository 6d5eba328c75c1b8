"""The functions' Powertools logger and metrics (service and namespace from POWERTOOLS_* variables).

Logs never carry prompt or answer text: only ids, sizes, counts and timings.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="ws-relay")
metrics = Metrics(namespace="WsRelay", service="ws-relay")
