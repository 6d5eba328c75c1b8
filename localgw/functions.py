"""The Lambda functions behind the routes: which callable, under what name, with what memory and timeout.

Resolution follows the deployed stack: function name `{stackName}-{Route.function}`, streaming routes get the
streaming memory/timeout from RelayConfig, the others the default ones. Handlers are imported lazily, like the
Lambda runtime does on the first invocation, so a missing module fails that invocation (with its traceback) rather
than the whole gateway.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lambdas.routes import Authorizer, Route, load_handler
from localgw.options import GatewayOptions, Handler
from stacks.config import RelayConfig


@dataclass(slots=True)
class Function:
    """One Lambda function as localgw runs it."""

    name: str
    handler_path: str
    timeout_seconds: float
    memory_mb: int
    region: str
    account_id: str
    injected: Handler | None = None
    _loaded: Handler | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def handler(self) -> Handler:
        """The callable, imported on first use (raises what the import raises: the invocation then fails)."""
        if self.injected is not None:
            return self.injected
        with self._lock:
            if self._loaded is None:
                self._loaded = load_handler(self.handler_path)
            return self._loaded

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


class LambdaContext:
    """What the Lambda runtime passes as `context` (the attributes Powertools and handlers read)."""

    def __init__(self, function: Function) -> None:
        self.function_name = function.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def route_functions(options: GatewayOptions, config: RelayConfig, region: str) -> dict[str, Function]:
    """Route key → Function for every route of the API."""
    return {route.key: _route_function(route, options, config, region) for route in options.routes}


def authorizer_function(options: GatewayOptions, config: RelayConfig, region: str) -> Function | None:
    authorizer: Authorizer | None = options.authorizer
    if authorizer is None:
        return None
    return Function(
        name=f"{config.stack_name}-{authorizer.function}",
        handler_path=authorizer.handler,
        timeout_seconds=_timeout(options, config, streaming=False),
        memory_mb=config.function_memory_mb,
        region=region,
        account_id=options.account_id,
        injected=options.authorizer_handler,
    )


def inline_routes(handlers: Mapping[str, Handler], streaming: tuple[str, ...] = ()) -> tuple[Route, ...]:
    """A route table for injected callables (tests): one Route per key, named after the key.

    Pass the same mapping as `GatewayOptions.handlers`; keys listed in `streaming` get the streaming timeout.
    """
    return tuple(Route(key, _function_label(key), f"inline:{key}", streaming=key in streaming) for key in handlers)


def _route_function(route: Route, options: GatewayOptions, config: RelayConfig, region: str) -> Function:
    return Function(
        name=f"{config.stack_name}-{route.function}",
        handler_path=route.handler,
        timeout_seconds=_timeout(options, config, streaming=route.streaming),
        memory_mb=config.send_text_memory_mb if route.streaming else config.function_memory_mb,
        region=region,
        account_id=options.account_id,
        injected=options.handlers.get(route.key),
    )


def _timeout(options: GatewayOptions, config: RelayConfig, *, streaming: bool) -> float:
    if streaming:
        override = options.streaming_timeout_seconds
        return float(config.send_text_timeout_seconds) if override is None else override
    override = options.function_timeout_seconds
    return float(config.function_timeout_seconds) if override is None else override


def _function_label(route_key: str) -> str:
    return "".join(part.capitalize() for part in route_key.strip("$").replace("-", "_").split("_")) or "Route"
