"""One log line and one set of EMF metrics per answer: figures only, never text."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.answer.relay import Outcome
from lambdas.delivery.engine import Delivery
from lambdas.observability import logger, new_metrics


def report(event: dict[str, Any], model: str, outcome: Outcome, delivery: Delivery, started: float) -> None:
    stats = delivery.stats
    total_ms = round((time.monotonic() - started) * 1000)
    first_token_ms = None if outcome.first_token_at is None else round((outcome.first_token_at - started) * 1000)
    first_post_ms = (
        None if stats.first_delta_posted_at is None else round((stats.first_delta_posted_at - started) * 1000)
    )
    metrics = new_metrics()
    metrics.add_dimension(name="model", value=model)
    metrics.add_metric(name="Answers", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="TotalTime", unit=MetricUnit.Milliseconds, value=total_ms)
    if first_token_ms is not None:
        metrics.add_metric(name="TimeToFirstToken", unit=MetricUnit.Milliseconds, value=first_token_ms)
    if first_post_ms is not None:
        metrics.add_metric(name="TimeToFirstPost", unit=MetricUnit.Milliseconds, value=first_post_ms)
    metrics.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=outcome.output_tokens or 0)
    metrics.add_metric(name="Posts", unit=MetricUnit.Count, value=stats.posts)
    metrics.add_metric(name="PostedBytes", unit=MetricUnit.Bytes, value=stats.bytes)
    metrics.add_metric(name="PostRetries", unit=MetricUnit.Count, value=stats.retries)
    metrics.add_metric(name="ClientGone", unit=MetricUnit.Count, value=int(stats.gone))
    if outcome.error_code:
        metrics.add_metric(name="AnswerErrors", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    logger.info(
        "answer",
        extra={
            "connectionId": event["requestContext"]["connectionId"],
            "model": model,
            "status": outcome.status,
            "stopReason": outcome.stop_reason,
            "errorCode": outcome.error_code,
            "upstreamError": outcome.upstream_error,
            "firstTokenMs": first_token_ms,
            "firstPostMs": first_post_ms,
            "totalMs": total_ms,
            "inputTokens": outcome.input_tokens,
            "outputTokens": outcome.output_tokens,
            "estimatedUsage": list(outcome.estimated),
            "textChars": outcome.text_chars,
            "toolCalls": len(outcome.tool_calls),
            "reasoningBlocks": len(outcome.reasoning),
            "posts": stats.posts,
            "bytes": stats.bytes,
            "retries": stats.retries,
            "gone": stats.gone,
            "deliveryFailure": stats.failure,
            "upstreamClosedEarly": outcome.upstream_closed_early,
        },
    )
