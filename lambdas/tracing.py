"""X-Ray tracing through Powertools Tracer, only when the stack turns it on (`-c tracing=true` sets RELAY_TRACING).

Off (the default), nothing here creates a Tracer or imports the X-Ray SDK: `span` is a bare context manager, so a
function pays neither import time nor a call per span. On, the Tracer patches boto3 (every table, model and
@connections call becomes a subsegment) and `span` wraps the pipeline's stages in named subsegments.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

from lambdas import env_vars
from lambdas.observability import SERVICE


def enabled() -> bool:
    return os.environ.get(env_vars.TRACING, "").lower() == "true"


@functools.cache
def tracer() -> Any | None:
    """The shared Tracer, created on first use; None when tracing is off."""
    if not enabled():
        return None
    # Threads the relay starts (the model reader, the sender) carry no X-Ray context: their boto3 calls are left
    # untraced instead of logging "segment not found" errors.
    os.environ.setdefault("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR")
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


@contextlib.contextmanager
def span(name: str) -> Iterator[None]:
    """A subsegment called `name` around the block when tracing is on; nothing at all when it is off."""
    active = tracer()
    if active is None:
        yield
        return
    with active.provider.in_subsegment(name=name):
        yield
