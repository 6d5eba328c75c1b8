"""`sendtext`: validate, stream the model's answer, and post it to the caller frame by frame.

Frames are always posted through @connections: this route has no route response, and a Lambda's return value
would be lost after API Gateway's 29 s integration timeout anyway.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lambdas import protocol
from lambdas.config import Settings, settings
from lambdas.delivery.engine import Delivery, DeliveryOptions
from lambdas.delivery.poster import ConnectionPoster
from lambdas.delivery.reply import reply
from lambdas.delivery.retry import RetryPolicy
from lambdas.observability import logger, metrics
from lambdas.protocol import ErrorCode
from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.registry import UnknownModelError, resolve
from lambdas.relay import Guards, Outcome, relay
from lambdas.requests import BadRequestError, SendText, parse_body, parse_sendtext

# Time kept back from the Lambda's remaining time while waiting for the last frames to be posted.
_RETURN_MARGIN_S = 0.5


def delivery_options(config: Settings) -> DeliveryOptions:
    return DeliveryOptions(
        coalesce_s=config.coalesce_ms / 1000,
        max_chars=config.coalesce_max_chars,
        retry=RetryPolicy(max_attempts=config.post_max_attempts),
    )


def model_request(request: SendText, config: Settings) -> ModelRequest:
    return ModelRequest(
        messages=(Message("user", request.text),),
        max_tokens=request.maxTokens or config.max_tokens_default,
        system=request.system,
        temperature=request.temperature,
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    config = settings()
    try:
        request = parse_sendtext(parse_body(event.get("body")))
        alias, provider = resolve(request.model)
    except BadRequestError as exc:
        _reject(
            event, protocol.error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=exc.request_id, field=exc.field)
        )
        return {"statusCode": 200}
    except UnknownModelError as exc:
        _reject(
            event, protocol.error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=request.requestId, field="model")
        )
        return {"statusCode": 200}

    request_id = request.requestId or protocol.new_request_id()
    logger.set_correlation_id(request_id)
    delivery = Delivery(ConnectionPoster.for_event(event), request_id, delivery_options(config))
    delivery.start(alias)
    try:
        outcome = relay(
            provider.stream(model_request(request, config)),
            delivery,
            Guards(context.get_remaining_time_in_millis, config.time_guard_ms, config.gone_grace_seconds),
            started_at=started,
        )
    except Exception:
        logger.exception("answer failed inside the relay")
        outcome = Outcome(status="error", error_code=ErrorCode.INTERNAL)
        delivery.finish(
            lambda seq: protocol.error_frame(
                ErrorCode.INTERNAL, "The relay failed; the answer is incomplete.", request_id=request_id, seq=seq
            )
        )
    if not delivery.wait(timeout=max(0.0, context.get_remaining_time_in_millis() / 1000 - _RETURN_MARGIN_S)):
        delivery.stop()
    _record(event, alias, outcome, delivery, started)
    return {"statusCode": 200}


def _reject(event: dict[str, Any], frame: dict[str, Any]) -> None:
    metrics.add_metric(name="RejectedRequests", unit=MetricUnit.Count, value=1)
    logger.info("request rejected", extra={"code": frame["code"], "field": frame.get("field")})
    reply(event, frame)


def _record(event: dict[str, Any], model: str, outcome: Outcome, delivery: Delivery, started: float) -> None:
    """One log line and one set of EMF metrics per answer: figures only, never text."""
    stats = delivery.stats
    total_ms = round((time.monotonic() - started) * 1000)
    first_token_ms = None if outcome.first_token_at is None else round((outcome.first_token_at - started) * 1000)
    first_post_ms = (
        None if stats.first_delta_posted_at is None else round((stats.first_delta_posted_at - started) * 1000)
    )
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
            "textChars": outcome.text_chars,
            "posts": stats.posts,
            "bytes": stats.bytes,
            "retries": stats.retries,
            "gone": stats.gone,
            "deliveryFailure": stats.failure,
            "upstreamClosedEarly": outcome.upstream_closed_early,
        },
    )
