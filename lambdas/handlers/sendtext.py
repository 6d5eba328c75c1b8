"""`sendtext`: validate, stream the model's answer, and post it to the caller frame by frame.

Frames are always posted through @connections: this route has no route response, and a Lambda's return value
would be lost after API Gateway's 29 s integration timeout anyway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lambdas import protocol, quotas
from lambdas.config import Settings, settings
from lambdas.delivery.engine import Delivery, DeliveryOptions
from lambdas.delivery.poster import ConnectionPoster
from lambdas.delivery.reply import reply
from lambdas.delivery.retry import RetryPolicy
from lambdas.identity import caller_id
from lambdas.models import CatalogueError
from lambdas.observability import logger, metrics
from lambdas.protocol import ErrorCode, error_frame
from lambdas.providers.base import Message, ModelRequest, Provider
from lambdas.providers.registry import UnknownModelError, resolve
from lambdas.quotas import QuotaError, QuotaExceededError, QuotaUnavailableError
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


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that passed validation, the model allow-list and the caller's quotas."""

    request: SendText
    request_id: str
    alias: str
    provider: Provider
    user: str
    max_tokens: int

    def model_request(self) -> ModelRequest:
        return ModelRequest(
            messages=(Message("user", self.request.text),),
            max_tokens=self.max_tokens,
            system=self.request.system,
            temperature=self.request.temperature,
        )


class Rejected(Exception):
    """The request is refused before anything was streamed; `frame` tells the client why."""

    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__(frame["message"])
        self.frame = frame


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    config = settings()
    try:
        accepted = accept(event, context, config)
    except Rejected as rejection:
        _reject(event, rejection.frame)
        return {"statusCode": 200}

    logger.set_correlation_id(accepted.request_id)
    delivery = Delivery(ConnectionPoster.for_event(event), accepted.request_id, delivery_options(config))
    outcome = Outcome(status="error", error_code=ErrorCode.INTERNAL)
    try:
        delivery.start(accepted.alias)
        outcome = relay(
            accepted.provider.stream(accepted.model_request()),
            delivery,
            Guards(context.get_remaining_time_in_millis, config.time_guard_ms, config.gone_grace_seconds),
            started_at=started,
        )
    except Exception:
        logger.exception("answer failed inside the relay")
        delivery.finish(
            lambda seq: protocol.error_frame(
                ErrorCode.INTERNAL,
                "The relay failed; the answer is incomplete.",
                request_id=accepted.request_id,
                seq=seq,
            )
        )
    finally:
        _settle_quotas(accepted, outcome)
    if not delivery.wait(timeout=max(0.0, context.get_remaining_time_in_millis() / 1000 - _RETURN_MARGIN_S)):
        delivery.stop()
    _record(event, accepted.alias, outcome, delivery, started)
    return {"statusCode": 200}


def accept(event: dict[str, Any], context: Any, config: Settings) -> Accepted:
    """Validate the message, pick the model, and take a quota slot for the caller; raise Rejected if any fails."""
    try:
        request = parse_sendtext(parse_body(event.get("body")))
    except BadRequestError as exc:
        raise Rejected(
            error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=exc.request_id, field=exc.field)
        ) from None
    client_request_id = request.requestId
    try:
        alias, provider = resolve(request.model)
    except UnknownModelError as exc:
        raise Rejected(
            error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=client_request_id, field="model")
        ) from None
    except CatalogueError:
        logger.exception("the model catalogue (RELAY_MODELS) is invalid")
        message = "The relay's model configuration is invalid."
        raise Rejected(error_frame(ErrorCode.INTERNAL, message, request_id=client_request_id)) from None

    request_id = client_request_id or protocol.new_request_id()
    user = caller_id(event)
    max_tokens = request.maxTokens or config.max_tokens_default
    try:
        tokens_left = quotas.check(user)
        quotas.acquire(user, request_id, lease_seconds=context.get_remaining_time_in_millis() / 1000 + 60)
    except QuotaExceededError as exc:
        message = f"Quota reached ({exc.quota}: {exc.limit}); retry in {exc.retry_after_s} s."
        raise Rejected(
            error_frame(ErrorCode.RATE_LIMITED, message, request_id=client_request_id, retryAfter=exc.retry_after_s)
        ) from None
    except QuotaUnavailableError:
        logger.exception("quota check failed; refusing rather than streaming unmetered")
        message = "The relay could not check your quota; try again shortly."
        raise Rejected(error_frame(ErrorCode.INTERNAL, message, request_id=client_request_id, retryable=True)) from None
    if tokens_left is not None:
        max_tokens = max(1, min(max_tokens, tokens_left))
    return Accepted(request, request_id, alias, provider, user, max_tokens)


def _settle_quotas(accepted: Accepted, outcome: Outcome) -> None:
    try:
        quotas.release(accepted.user, accepted.request_id)
        quotas.add(accepted.user, outcome.output_tokens or 0)
    except QuotaError:
        # The lease expires on its own and the day's count is soft: log, never fail the finished answer.
        logger.exception("quota bookkeeping failed after the answer")


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
