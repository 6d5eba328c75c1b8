"""boto3 clients, created once per execution environment and shared by every invocation in it.

Creation goes through one lock because boto3's default session is not thread-safe to create clients from, and
localgw runs many invocations in threads of one process. Endpoints come from botocore's own environment variables
(`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, ...), so localgw needs no code path of its own.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

_lock = threading.Lock()

# @connections posts are retried by the delivery engine (ordered, bounded, with metrics), never by botocore too.
_CONNECTIONS_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=64,
)
# Pre-stream throttling is retried a little by botocore; in-stream errors are never retried (they can't be).
_MODEL_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=60, max_pool_connections=64
)
_TABLE_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=5, max_pool_connections=64
)


_session: boto3.session.Session | None = None


def _create(service: str, **kwargs: Any) -> Any:
    """A client from the one session of this execution environment (called under `_lock`): a session per client
    would load botocore's data files again each time, most of a cold start's client cost."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session.client(service, **kwargs)


def _shared(factory: Callable[..., Any]) -> Callable[..., Any]:
    """Like functools.cache, but threads racing on the first call get ONE client: the cache is re-checked inside
    the lock. (With a plain cache each racing thread built its own client, one after another behind the lock.)"""
    made: dict[tuple[Any, ...], Any] = {}

    @functools.wraps(factory)
    def get(*args: Any) -> Any:
        client = made.get(args)
        if client is None:
            with _lock:
                client = made.get(args)
                if client is None:
                    client = made[args] = factory(*args)
        return client

    def cache_clear() -> None:
        # The session goes too: a client made after this must see the environment as it is now (endpoints,
        # credentials, moto's mock in tests), not as it was when the session was first created.
        global _session
        with _lock:
            made.clear()
            _session = None

    get.cache_clear = cache_clear  # type: ignore[attr-defined]
    return get


_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _local_table_credentials() -> dict[str, str]:
    """Placeholder keys when the table is a local stand-in (`AWS_ENDPOINT_URL_DYNAMODB` on this machine: localgw's
    moto, DynamoDB Local), which takes any signature: the table never needs real credentials, and never sees them,
    while the other clients keep the real chain (localgw `--upstream bedrock`)."""
    if urlsplit(os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", "")).hostname in _LOOPBACK_HOSTS:
        return {"aws_access_key_id": "localgw", "aws_secret_access_key": "localgw"}
    return {}


@_shared
def dynamodb() -> Any:
    return _create("dynamodb", config=_TABLE_CONFIG, **_local_table_credentials())


@_shared
def bedrock_runtime() -> Any:
    return _create("bedrock-runtime", config=_MODEL_CONFIG)


@_shared
def sagemaker_runtime() -> Any:
    return _create("sagemaker-runtime", config=_MODEL_CONFIG)


@_shared
def connections(endpoint_url: str) -> Any:
    """An `apigatewaymanagementapi` client for one API stage (`https://{domainName}/{stage}`)."""
    return _create("apigatewaymanagementapi", endpoint_url=endpoint_url, config=_CONNECTIONS_CONFIG)


# API keys of OpenAI-compatible upstreams are read once per execution environment; a slow read fails fast.
_SECRETS_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=5)


@_shared
def secretsmanager() -> Any:
    return _create("secretsmanager", config=_SECRETS_CONFIG)


@_shared
def ssm() -> Any:
    return _create("ssm", config=_SECRETS_CONFIG)


# Attachments (lambdas.attachments): presigned POSTs must be SigV4 (every region takes it; newer ones take nothing
# else), and reads of a few MB get a longer read timeout than the table's. The POST goes to the bucket's regional
# virtual-hosted name (`https://{bucket}.s3.{region}.amazonaws.com/`, what the web page's CSP allows): botocore's
# default, the global name, answers a new bucket outside us-east-1 with a redirect a browser's CORS POST cannot
# follow. A custom endpoint (localgw's S3) stays path-style.
_S3_CONFIG = Config(
    signature_version="s3v4",
    s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=2,
    read_timeout=20,
    max_pool_connections=64,
)


@_shared
def s3() -> Any:
    return _create("s3", config=_S3_CONFIG)
