"""The environment the handlers run with: exactly the deployed functions' environment (RelayConfig), plus the
botocore endpoint variables that point their unchanged boto3 clients at local services, and with the simulated
upstream a model catalogue that tries every provider on it (localgw/local_catalogue.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import boto3

from lambdas import env_vars
from localgw.local_catalogue import catalogue_environment
from localgw.options import DEFAULT_REGION, GatewayOptions
from stacks.config import RelayConfig

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "localgw", "AWS_SECRET_ACCESS_KEY": "localgw"}


def local_client(service: str, endpoint_url: str, region: str) -> Any:
    """A boto3 client for one of localgw's embedded services: its endpoint, dummy credentials (never the real
    credential chain, which a machine without AWS credentials would fail)."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def resolve_region(explicit: str | None, current: Mapping[str, str]) -> str:
    return explicit or current.get("AWS_REGION") or current.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def handler_environment(
    *,
    config: RelayConfig,
    options: GatewayOptions,
    region: str,
    table_name: str,
    gateway_url: str,
    stage: str,
    dynamodb_url: str | None,
    current: Mapping[str, str],
    s3_url: str | None = None,
    attachments_bucket: str | None = None,
) -> dict[str, str]:
    """The variables to set (pure: `current` is the environment they will be merged into)."""
    env = config.function_environment(table_name)
    env[env_vars.CONNECTIONS_ENDPOINT] = f"{gateway_url}/{stage}"
    # Quiet by default: Powertools' JSON logs only from WARNING up, and no EMF metric blobs on the terminal.
    env["POWERTOOLS_LOG_LEVEL"] = options.handler_log_level
    env["POWERTOOLS_METRICS_DISABLED"] = "true"
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env["AWS_REGION"] = region
    env["AWS_DEFAULT_REGION"] = region
    if dynamodb_url is not None:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_url
    if s3_url is not None and attachments_bucket:
        # Attachments always stay on this machine (localgw.s3), whichever upstream answers.
        env["AWS_ENDPOINT_URL_S3"] = s3_url
        env[env_vars.ATTACHMENTS_BUCKET] = attachments_bucket
    if options.upstream == "simulated":
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = gateway_url
        env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = gateway_url
        # Local endpoints ignore signatures, but botocore still needs some credentials to sign with. Real ones are
        # never replaced, and with `--upstream bedrock` nothing is added: real Bedrock needs the user's own.
        # A real table through --dynamodb-endpoint needs the profile's credentials: no dummy ones over them.
        real_table = options.dynamodb_endpoint and current.get("AWS_PROFILE")
        if not current.get("AWS_ACCESS_KEY_ID") and not real_table:
            env.update(DUMMY_CREDENTIALS)
    # A model alias per provider and format, all served by the simulator (localgw/local_catalogue.py); nothing when the
    # deployed catalogue applies (real Bedrock, or the user's own `models`).
    env.update(catalogue_environment(config, upstream=options.upstream, gateway_url=gateway_url, current=current))
    env["NO_PROXY"] = _no_proxy(
        current.get("NO_PROXY") or current.get("no_proxy") or "", gateway_url, dynamodb_url, s3_url
    )
    env["no_proxy"] = env["NO_PROXY"]
    return env


def _no_proxy(existing: str, *urls: str | None) -> str:
    # An HTTP(S)_PROXY set for the internet must not capture the calls to local endpoints.
    hosts = [host for host in existing.split(",") if host]
    for candidate in ("127.0.0.1", "localhost", *(urlsplit(url).hostname for url in urls if url)):
        if candidate and candidate not in hosts:
            hosts.append(candidate)
    return ",".join(hosts)


class EnvironmentPatch:
    """Sets variables in os.environ and puts back exactly what was there before."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = dict(variables)
        self._saved: dict[str, str | None] = {}

    def apply(self) -> None:
        self._saved = {name: os.environ.get(name) for name in self.variables}
        os.environ.update(self.variables)
        _new_execution_environments()

    def restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = {}
        _new_execution_environments()


def _new_execution_environments() -> None:
    # The handlers keep per-execution-environment state in functools caches (settings read from the environment,
    # boto3 clients bound to endpoints, connection pools). A gateway starting or stopping is a new deployment:
    # fresh execution environments, so every such cache in the `lambdas` package is emptied.
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "lambdas" or name.startswith("lambdas.")):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == name:
                value.cache_clear()
