"""`sendtext`: stream the model's answer to the caller, frame by frame (`lambdas.answer`).

The store, the admission's read pool and the control watcher are built once per execution environment, on the
first answer, and shared by every answer after it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.answer.admission import Admission
from lambdas.answer.control import ControlWatcher
from lambdas.answer.pipeline import Answering
from lambdas.config import settings
from lambdas.observability import logger
from lambdas.store import shared

_READ_THREADS = 4
"""Admission's parallel reads: the quota/record batch and the conversation query, for a few answers at once."""


@cache
def answering() -> Answering:
    """This execution environment's answering (localgw and tests, which change the environment, clear it)."""
    store = shared()
    pool = ThreadPoolExecutor(_READ_THREADS, thread_name_prefix="admission")
    watcher = ControlWatcher(store.answers.poll, settings().control_poll_ms / 1000)
    return Answering(store, Admission(store, pool), watcher)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    answering().handle(event, context)
    return {"statusCode": 200}
