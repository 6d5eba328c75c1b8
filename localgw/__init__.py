"""localgw: a faithful local API Gateway WebSocket API (plus @connections, DynamoDB and a simulated upstream).

Run it with `python -m localgw`; drive it from tests with `run_in_thread(GatewayOptions(...))`.
See docs/localgw.md.
"""

from __future__ import annotations

from localgw.functions import LambdaContext, inline_routes
from localgw.gateway import LocalGateway
from localgw.options import GatewayOptions, Handler
from localgw.runner import GatewayHandle, run_in_thread
from localgw.stats import GatewayStats, PostTally

__all__ = [
    "GatewayHandle",
    "GatewayOptions",
    "GatewayStats",
    "Handler",
    "LambdaContext",
    "LocalGateway",
    "PostTally",
    "inline_routes",
    "run_in_thread",
]
