"""Everything a LocalGateway can be told, with API Gateway's own quotas as defaults.

Options are plain data: the CLI builds them from flags and environment variables, tests build them directly.
Nothing here reads the environment or the disk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lambdas import routes as route_definitions
from lambdas.routes import Authorizer, Route

Handler = Callable[[dict[str, Any], Any], Any]
"""A Lambda handler: `handler(event, context) -> result`."""

Upstream = Literal["simulated", "bedrock"]

# API Gateway WebSocket quotas (see /work/shared/REFERENCE.md, "Quotas").
IDLE_TIMEOUT_SECONDS = 600.0
MAX_CONNECTION_SECONDS = 7200.0
MAX_MESSAGE_BYTES = 128 * 1024
MAX_FRAME_BYTES = 32 * 1024
INTEGRATION_TIMEOUT_SECONDS = 29.0
MAX_AUTHORIZER_RESULT_BYTES = 8 * 1024

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_WORKERS = 512
"""Threads for handler invocations: 200+ concurrent streaming answers plus their connects and disconnects."""
DEFAULT_CLIENT_BUFFER_BYTES = 4 * 1024 * 1024
"""Bytes queued for one slow client before @connections answers 429 (API Gateway's "client-side buffer full")."""


def _default_authorizer() -> Authorizer | None:
    # Read at construction time, not import time, so a change to lambdas.routes.AUTHORIZER is always seen.
    return route_definitions.AUTHORIZER


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """How one local gateway behaves. Every AWS behaviour is a named option with AWS's default."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    """0 picks a free port (tests); the bound port is on the running gateway and its handle."""
    stage: str | None = None
    """None: the stage from cdk.json (`load_config().stage`)."""
    context_overrides: Mapping[str, Any] = field(default_factory=dict)
    """cdk.json context keys to override, exactly like `cdk -c key=value`."""

    # The API: routes and their functions.
    routes: tuple[Route, ...] = route_definitions.ROUTES
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    """Callables used instead of importing `Route.handler`, keyed by route key (tests inject small handlers)."""
    authorizer: Authorizer | None = field(default_factory=_default_authorizer)
    authorizer_handler: Handler | None = None
    """Callable used instead of importing `authorizer.handler`."""
    route_selection_expression: str = route_definitions.ROUTE_SELECTION_EXPRESSION

    # Lambda.
    workers: int = DEFAULT_WORKERS
    function_timeout_seconds: float | None = None
    """None: RelayConfig.function_timeout_seconds. Tests shorten it to exercise time guards."""
    streaming_timeout_seconds: float | None = None
    """None: RelayConfig.send_text_timeout_seconds (routes with `streaming=True`)."""
    region: str | None = None
    """None: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1 (handlers get it as AWS_REGION/AWS_DEFAULT_REGION)."""
    account_id: str = DEFAULT_ACCOUNT_ID
    api_id: str | None = None
    """None: a random 10-character id, like API Gateway's."""

    # API Gateway quotas and behaviours.
    idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS
    max_connection_seconds: float = MAX_CONNECTION_SECONDS
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_frame_bytes: int | None = MAX_FRAME_BYTES
    """None turns the per-frame check off (it relies on aiohttp internals; see docs/localgw.md)."""
    integration_timeout_seconds: float = INTEGRATION_TIMEOUT_SECONDS
    posts_reset_idle_timer: bool = True
    """Whether an @connections POST counts as activity for the idle timeout (unverified on AWS: see docs)."""
    client_buffer_bytes: int = DEFAULT_CLIENT_BUFFER_BYTES

    # Fault injection on @connections POST (changeable at runtime through `LocalGateway.faults`).
    post_latency_ms: float = 0.0
    post_429_rate: float = 0.0
    fault_seed: int = 0

    # Local backing services.
    dynamodb: bool = True
    """Start moto's DynamoDB server and create the table; tests of the gateway alone turn it off."""
    dynamodb_endpoint: str | None = None
    """An external DynamoDB (DynamoDB Local, or a real one's endpoint) the handlers use instead of moto; the table is
    created there when missing. `dynamodb` (moto) is then not started."""
    ddb_port: int = 0
    ddb_latency_ms: float = 0.0
    """Added to every DynamoDB request (the round trip a Lambda pays on AWS); `LocalGateway.dynamodb.tap.latency_ms`."""
    s3: bool = True
    """Start moto's S3 with the attachments bucket (localgw.s3), so `attach` uploads work locally."""
    s3_port: int = 0
    upstream: Upstream = "simulated"
    mount_simulator: bool = True
    dev_issuer: bool = True
    """Serve localgw.dev_issuer (JWKS + `/dev/token`) and point the authorizer's RELAY_AUTH_* settings at it."""
    apply_environment: bool = True
    """Write the handlers' environment into os.environ on start (and restore it on stop)."""
    handler_log_level: str = "WARNING"
    """POWERTOOLS_LOG_LEVEL for the handlers: their JSON logs stay quiet locally unless asked for."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.post_429_rate <= 1.0:
            raise ValueError(f"post_429_rate must be between 0 and 1, got {self.post_429_rate}")
        for name in ("post_latency_ms", "ddb_latency_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.dynamodb_endpoint is not None and not self.dynamodb_endpoint.startswith(("http://", "https://")):
            raise ValueError(f"dynamodb_endpoint must be an http:// or https:// URL, got {self.dynamodb_endpoint!r}")
        if self.upstream not in ("simulated", "bedrock"):
            raise ValueError(f"upstream must be 'simulated' or 'bedrock', got {self.upstream!r}")
        for name in ("idle_timeout_seconds", "max_connection_seconds", "integration_timeout_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
