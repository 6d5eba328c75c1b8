"""One log line and one set of EMF metrics per answer: figures only, never text."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from lambdas.answer.relay import Outcome
from lambdas.delivery.engine import Delivery
from lambdas.observability import logger, new_metrics

# How an answer ended, beside `done`: the status when the client left or cancelled, else the stop reason.
_ENDING_STATUSES = frozenset({"cancelled", "gone", "delivery_failed"})
_ENDING_STOP_REASONS = frozenset({"cancelled", "time_limit"})


def ending(outcome: Outcome) -> str:
    """The `ending` dimension of `AnswersEnded`: an error code, `cancelled`, `gone`, `delivery_failed`, `time_limit`
    or `done` — a handful of values, so one metric each (CloudWatch bills per metric)."""
    if outcome.error_code:
        return str(outcome.error_code)
    if outcome.status in _ENDING_STATUSES:
        return outcome.status
    if outcome.stop_reason in _ENDING_STOP_REASONS:
        return str(outcome.stop_reason)
    return "done"


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
    _report_service_totals(outcome, first_token_ms, stats.posts)
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


def _report_service_totals(outcome: Outcome, first_token_ms: int | None, posts: int) -> None:
    """The same figures over every model (the service dimension alone), which the stack's alarms watch (an alarm
    cannot add up one metric per model), and the answer's ending (the dashboard's endings graph)."""
    totals = new_metrics()
    totals.add_metric(name="Answers", unit=MetricUnit.Count, value=1)
    totals.add_metric(name="AnswerErrors", unit=MetricUnit.Count, value=int(bool(outcome.error_code)))
    totals.add_metric(name="Posts", unit=MetricUnit.Count, value=posts)
    if first_token_ms is not None:
        totals.add_metric(name="TimeToFirstToken", unit=MetricUnit.Milliseconds, value=first_token_ms)
    totals.flush_metrics()
    endings = new_metrics()
    endings.add_dimension(name="ending", value=ending(outcome))
    endings.add_metric(name="AnswersEnded", unit=MetricUnit.Count, value=1)
    endings.flush_metrics()
