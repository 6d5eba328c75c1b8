"""`python -m localgw`: flags, their LOCALGW_* environment variables, and human-readable terminal output."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lambdas import routes as route_definitions
from localgw.gateway import LocalGateway
from localgw.options import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_WORKERS,
    IDLE_TIMEOUT_SECONDS,
    MAX_CONNECTION_SECONDS,
    GatewayOptions,
)
from localgw.terminal import EmfFilter
from stacks.config import ConfigError

log = logging.getLogger("localgw")

# flag → (environment variable, default, type): the environment variable sets the default, the flag wins.
_SETTINGS: dict[str, tuple[str, Any, Callable[[str], Any]]] = {
    "host": ("LOCALGW_HOST", DEFAULT_HOST, str),
    "port": ("LOCALGW_PORT", DEFAULT_PORT, int),
    "stage": ("LOCALGW_STAGE", None, str),
    "upstream": ("LOCALGW_UPSTREAM", "simulated", str),
    "log_level": ("LOCALGW_LOG_LEVEL", "WARNING", str.upper),
    "region": ("LOCALGW_REGION", None, str),
    "idle_timeout": ("LOCALGW_IDLE_TIMEOUT", IDLE_TIMEOUT_SECONDS, float),
    "max_connection_duration": ("LOCALGW_MAX_CONNECTION_DURATION", MAX_CONNECTION_SECONDS, float),
    "post_latency_ms": ("LOCALGW_POST_LATENCY_MS", 0.0, float),
    "post_429_rate": ("LOCALGW_POST_429_RATE", 0.0, float),
    "seed": ("LOCALGW_SEED", 0, int),
    "ddb_port": ("LOCALGW_DDB_PORT", 0, int),
    "dynamodb_endpoint": ("LOCALGW_DYNAMODB_ENDPOINT", None, str),
    "ddb_latency_ms": ("LOCALGW_DDB_LATENCY_MS", 0.0, float),
    "workers": ("LOCALGW_WORKERS", DEFAULT_WORKERS, int),
}


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    def default(name: str) -> Any:
        variable, fallback, convert = _SETTINGS[name]
        raw = environ.get(variable)
        if raw in (None, ""):
            return fallback
        try:
            return convert(raw)
        except ValueError as exc:
            raise SystemExit(f"localgw: {variable}={raw!r}: {exc}") from exc

    parser = argparse.ArgumentParser(
        prog="python -m localgw",
        description="A faithful local API Gateway WebSocket API for the relay's Lambda handlers.",
        epilog="Every flag also reads an environment variable (LOCALGW_PORT, ...): see docs/localgw.md.",
    )
    add = parser.add_argument
    add("--host", default=default("host"), help="address to bind (LOCALGW_HOST, default %(default)s)")
    add("--port", type=int, default=default("port"), help="0 picks a free port (LOCALGW_PORT, default %(default)s)")
    add("--stage", default=default("stage"), help="stage in the URL (LOCALGW_STAGE, default: cdk.json's stage)")
    add(
        "--upstream",
        choices=("simulated", "bedrock"),
        default=default("upstream"),
        help="simulated model upstream, or real Bedrock with your AWS credentials (LOCALGW_UPSTREAM)",
    )
    add(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        type=str.upper,
        default=default("log_level"),
        help="the handlers' Powertools log level (LOCALGW_LOG_LEVEL, default %(default)s)",
    )
    add("--region", default=default("region"), help="AWS region (LOCALGW_REGION, default AWS_REGION or us-east-1)")
    add(
        "--idle-timeout",
        type=float,
        default=default("idle_timeout"),
        help="seconds without a message before the server closes (LOCALGW_IDLE_TIMEOUT, default %(default)g)",
    )
    add(
        "--max-connection-duration",
        type=float,
        default=default("max_connection_duration"),
        help="seconds a connection may live (LOCALGW_MAX_CONNECTION_DURATION, default %(default)g)",
    )
    add(
        "--post-latency-ms",
        type=float,
        default=default("post_latency_ms"),
        help="latency added to each @connections POST (LOCALGW_POST_LATENCY_MS)",
    )
    add(
        "--post-429-rate",
        type=float,
        default=default("post_429_rate"),
        help="fraction 0..1 of POSTs answered 429 LimitExceededException (LOCALGW_POST_429_RATE)",
    )
    add("--seed", type=int, default=default("seed"), help="seed of the 429 draw (LOCALGW_SEED, default %(default)s)")
    add("--ddb-port", type=int, default=default("ddb_port"), help="port of moto's DynamoDB (LOCALGW_DDB_PORT; 0: free)")
    add(
        "--dynamodb-endpoint",
        default=default("dynamodb_endpoint"),
        metavar="URL",
        help="use this DynamoDB (DynamoDB Local, or a real endpoint with your credentials) instead of moto; the "
        "table {stackName}-local is created there if missing (LOCALGW_DYNAMODB_ENDPOINT)",
    )
    add(
        "--ddb-latency-ms",
        type=float,
        default=default("ddb_latency_ms"),
        help="latency added to each DynamoDB request (LOCALGW_DDB_LATENCY_MS)",
    )
    add("--workers", type=int, default=default("workers"), help="handler threads (LOCALGW_WORKERS, %(default)s)")
    add(
        "--no-auth",
        action="store_true",
        default=environ.get("LOCALGW_NO_AUTH", "").lower() in ("1", "true", "yes"),
        help="ignore lambdas.routes.AUTHORIZER: $connect is open (LOCALGW_NO_AUTH=1)",
    )
    add(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a cdk.json context value, like `cdk -c` (repeatable)",
    )
    return parser


def parse_options(argv: Sequence[str] | None, environ: Mapping[str, str]) -> GatewayOptions:
    args = build_parser(environ).parse_args(argv)
    overrides = {}
    for item in args.context:
        key, separator, value = item.partition("=")
        if not separator:
            raise SystemExit(f"--context expects KEY=VALUE, got {item!r}")
        overrides[key] = value
    try:
        return GatewayOptions(
            host=args.host,
            port=args.port,
            stage=args.stage,
            context_overrides=overrides,
            authorizer=None if args.no_auth else route_definitions.AUTHORIZER,
            upstream=args.upstream,
            handler_log_level=args.log_level,
            region=args.region,
            idle_timeout_seconds=args.idle_timeout,
            max_connection_seconds=args.max_connection_duration,
            post_latency_ms=args.post_latency_ms,
            post_429_rate=args.post_429_rate,
            fault_seed=args.seed,
            ddb_port=args.ddb_port,
            dynamodb_endpoint=args.dynamodb_endpoint or None,
            ddb_latency_ms=args.ddb_latency_ms,
            workers=args.workers,
        )
    except ValueError as exc:
        raise SystemExit(f"localgw: {exc}") from exc


class TerminalFormatter(logging.Formatter):
    """`HH:MM:SS.mmm  line` for events; the start banner without timestamps."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d  %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "banner", False):
            return record.getMessage()
        return super().format(record)


def configure_logging(stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(TerminalFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


async def serve(options: GatewayOptions) -> None:
    gateway = LocalGateway(options)
    await gateway.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        log.info("stopping: closing connections (1001 Going away) and running their $disconnect")
        await gateway.stop()


def bedrock_credentials_problem(region: str | None) -> str | None:
    """Why `--upstream bedrock` cannot call Bedrock (no credentials in boto3's chain, or ones that do not resolve),
    or None. Only the model calls need them: the embedded table is signed with placeholder keys."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        credentials = boto3.session.Session(region_name=region).get_credentials()
        if credentials is not None:
            credentials.get_frozen_credentials()  # an expired SSO session or a failing credential_process shows here
            return None
        found = "no AWS credentials were found"
    except BotoCoreError as exc:
        found = f"the AWS credentials could not be loaded: {exc}"
    return "\n".join(
        [
            f"localgw: --upstream bedrock calls Amazon Bedrock with your AWS credentials, and {found}.",
            "  Set one of:",
            "    AWS_PROFILE=<profile>   a profile of ~/.aws/config or ~/.aws/credentials (SSO: `aws sso login` first)",
            "    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)",
            "  with bedrock:InvokeModelWithResponseStream on the models; or leave out --upstream bedrock",
            "  (LOCALGW_UPSTREAM) to answer with the simulated models, which need no credentials.",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv, os.environ)
    if options.upstream == "bedrock":
        problem = bedrock_credentials_problem(options.region)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
    terminal = sys.stdout
    configure_logging(terminal)
    sys.stdout = EmfFilter(terminal)  # type: ignore[assignment]  # the handlers print to sys.stdout
    # Powertools warns on every process's first invocation that records no metric: noise on a terminal.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        asyncio.run(serve(options))
    except ConfigError as exc:
        print(f"localgw: cdk.json: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"localgw: cannot listen on {options.host}:{options.port}: {exc.strerror or exc}", file=sys.stderr)
        print("  another process has the port? try --port 0 (any free port) or --port <n>", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        sys.stdout = terminal
    return 0
