"""`sendtext`: validate, stream the model's answer, and post it to the caller frame by frame.

Frames are always posted through @connections: this route has no route response, and a Lambda's return value
would be lost after API Gateway's 29 s integration timeout anyway. Every answer belongs to a conversation (a new
one unless `conversationId` continues one) and has a record that cancel and resume requests write to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from lambdas import clients, protocol, quotas
from lambdas.config import Settings, settings
from lambdas.delivery.engine import Delivery, DeliveryOptions
from lambdas.delivery.poster import ConnectionPoster, connections_endpoint
from lambdas.delivery.reply import reply
from lambdas.delivery.retry import RetryPolicy
from lambdas.identity import caller_id
from lambdas.models import CatalogueError
from lambdas.observability import count, logger, new_metrics
from lambdas.protocol import ErrorCode, StopReason, error_frame
from lambdas.providers.base import Message, ModelRequest, Provider
from lambdas.providers.registry import UnknownModelError, resolve
from lambdas.quotas import QuotaError, QuotaExceededError, QuotaUnavailableError
from lambdas.relay import Guards, Outcome, relay
from lambdas.requests import BadRequestError, SendText, parse_body, parse_sendtext
from lambdas.store import answers, conversations
from lambdas.store.conversations import COMPLETE, PARTIAL, Conversation, Turn
from lambdas.store.errors import ConflictError, ForbiddenError, NotFoundError, StoreError

_TRY_AGAIN = "The relay could not start this answer; try again shortly."
# Time kept back from the Lambda's remaining time while waiting for the last frames to be posted.
_RETURN_MARGIN_S = 0.5
_COMPLETE_STOPS = frozenset({StopReason.END_TURN, StopReason.MAX_TOKENS, StopReason.STOP_SEQUENCE})


def delivery_options(config: Settings) -> DeliveryOptions:
    return DeliveryOptions(
        coalesce_s=config.coalesce_ms / 1000,
        max_chars=config.coalesce_max_chars,
        retry=RetryPolicy(max_attempts=config.post_max_attempts),
    )


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that passed validation, the model allow-list and the caller's quotas, with its turn taken."""

    request: SendText
    request_id: str
    alias: str
    provider: Provider
    user: str
    max_tokens: int
    conversation_id: str
    answer_turn: int
    history: tuple[Message, ...]

    def model_request(self) -> ModelRequest:
        return ModelRequest(
            messages=(*self.history, Message("user", self.request.text)),
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
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    config = settings()
    try:
        accepted = accept(event, context, config)
    except Rejected as rejection:
        _reject(event, rejection.frame)
        return {"statusCode": 200}
    except Exception:
        # Never leave a client waiting in silence: whatever failed, say so (and let it retry).
        logger.exception("the request could not be accepted")
        _reject(event, error_frame(ErrorCode.INTERNAL, _TRY_AGAIN, retryable=True))
        return {"statusCode": 200}

    logger.set_correlation_id(accepted.request_id)
    connections = clients.connections(connections_endpoint(event["requestContext"]))
    delivery = Delivery(
        ConnectionPoster(connections, event["requestContext"]["connectionId"]),
        accepted.request_id,
        delivery_options(config),
    )
    guards = Guards(
        context.get_remaining_time_in_millis,
        config.time_guard_ms,
        config.gone_grace_seconds,
        control=answers.poll_controls,
        control_interval_s=config.control_poll_ms / 1000,
        resume_to=lambda connection_id: ConnectionPoster(connections, connection_id),
        on_end=lambda outcome, text: _store_answer(accepted, outcome, text),
    )
    outcome = Outcome(status="error", error_code=ErrorCode.INTERNAL)
    try:
        delivery.start(accepted.alias, conversationId=accepted.conversation_id)
        outcome = relay(accepted.provider.stream(accepted.model_request()), delivery, guards, started_at=started)
    except Exception:
        logger.exception("answer failed inside the relay")
        message = "The relay failed; the answer is incomplete."
        delivery.finish(lambda seq: error_frame(ErrorCode.INTERNAL, message, request_id=accepted.request_id, seq=seq))
    finally:
        _settle_quotas(accepted, outcome)
    _deliver_and_store(delivery, outcome, connections, context)
    _record(event, accepted.alias, outcome, delivery, started)
    return {"statusCode": 200}


def accept(event: dict[str, Any], context: Any, config: Settings) -> Accepted:
    """Validate the message, pick the model, load the conversation, take a quota slot and the next turn;
    raise Rejected if any of it fails."""
    try:
        request = parse_sendtext(parse_body(event.get("body")))
    except BadRequestError as exc:
        frame = error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=exc.request_id, field=exc.field)
        raise Rejected(frame) from None
    client_request_id = request.requestId

    def refuse(code: ErrorCode, message: str, **extra: Any) -> Rejected:
        return Rejected(error_frame(code, message, request_id=client_request_id, **extra))

    try:
        alias, provider = resolve(request.model)
    except UnknownModelError as exc:
        raise refuse(ErrorCode.BAD_REQUEST, str(exc), field="model") from None
    except CatalogueError:
        logger.exception("the model catalogue (RELAY_MODELS) is invalid")
        raise refuse(ErrorCode.INTERNAL, "The relay's model configuration is invalid.") from None

    user = caller_id(event)
    try:
        if request.conversationId:
            conversation = conversations.load(request.conversationId, user)
        else:
            conversation = Conversation(protocol.new_request_id(), user)
    except NotFoundError:
        raise refuse(ErrorCode.NOT_FOUND, "No such conversation.", field="conversationId") from None
    except ForbiddenError:
        raise refuse(ErrorCode.FORBIDDEN, "That conversation belongs to another user.") from None
    except (StoreError, ClientError, BotoCoreError):
        logger.exception("could not read the conversation")
        raise refuse(ErrorCode.INTERNAL, _TRY_AGAIN, retryable=True) from None

    request_id = client_request_id or protocol.new_request_id()
    max_tokens = request.maxTokens or config.max_tokens_default
    remaining_s = context.get_remaining_time_in_millis() / 1000
    try:
        tokens_left = quotas.check(user)
        quotas.acquire(user, request_id, lease_seconds=remaining_s + 60)
    except QuotaExceededError as exc:
        message = f"Quota reached ({exc.quota}: {exc.limit}); retry in {exc.retry_after_s} s."
        raise refuse(ErrorCode.RATE_LIMITED, message, retryAfter=exc.retry_after_s) from None
    except QuotaUnavailableError:
        logger.exception("quota check failed; refusing rather than streaming unmetered")
        raise refuse(
            ErrorCode.INTERNAL, "The relay could not check your quota; try again shortly.", retryable=True
        ) from None
    if tokens_left is not None:
        max_tokens = max(1, min(max_tokens, tokens_left))

    record = answers.new_record_put(
        request_id, user, event["requestContext"]["connectionId"], conversation.conversation_id, remaining_s
    )
    try:
        answer_turn = conversations.start_turn(conversation, request.text, request_id, record)
    except (ConflictError, StoreError) as exc:
        quotas.release(user, request_id)
        if isinstance(exc, ConflictError):
            message = "That requestId is already in use, or another answer in this conversation is in flight."
            raise refuse(ErrorCode.BAD_REQUEST, message, field="requestId") from None
        logger.exception("could not start the turn")
        raise refuse(
            ErrorCode.INTERNAL, "The relay could not store the conversation; try again.", retryable=True
        ) from None
    history = conversations.context(conversation, config.history_max_chars)
    return Accepted(
        request, request_id, alias, provider, user, max_tokens, conversation.conversation_id, answer_turn, history
    )


def _store_answer(accepted: Accepted, outcome: Outcome, text: str) -> None:
    """The answer's turn, stored before its terminal frame leaves: a client that asks again right after `done`
    must find this answer in the conversation."""
    complete = outcome.status == "done" and outcome.stop_reason in _COMPLETE_STOPS
    conversations.add_answer(
        accepted.conversation_id,
        Turn(
            accepted.answer_turn,
            "assistant",
            text,
            request_id=accepted.request_id,
            status=COMPLETE if complete else PARTIAL,
            stop=outcome.stop_reason if outcome.error_code is None else outcome.error_code,
        ),
    )


def _deliver_and_store(delivery: Delivery, outcome: Outcome, connections: Any, context: Any) -> None:
    """Wait for the last frames, store the answer's frames for replay, and serve a resume that came too late for
    the streaming loop to see."""

    def time_left() -> float:
        return max(0.0, context.get_remaining_time_in_millis() / 1000 - _RETURN_MARGIN_S)

    delivery.wait(timeout=time_left())
    if delivery.complete:
        try:
            last = answers.end(delivery.request_id, delivery.journal)
        except Exception:
            logger.exception("storing the answer's frames failed; it cannot be replayed")
        else:
            if last.resume_nonce > outcome.resume_nonce and last.resume_connection:
                delivery.retarget(ConnectionPoster(connections, last.resume_connection), last.resume_after)
                delivery.wait(timeout=time_left())
    delivery.stop()


def _reject(event: dict[str, Any], frame: dict[str, Any]) -> None:
    count("RejectedRequests")
    logger.info("request rejected", extra={"code": frame["code"], "field": frame.get("field")})
    reply(event, frame)


def _settle_quotas(accepted: Accepted, outcome: Outcome) -> None:
    try:
        quotas.release(accepted.user, accepted.request_id)
        quotas.add(accepted.user, outcome.output_tokens or 0)
    except QuotaError:
        # The lease expires on its own and the day's count is soft: log, never fail the finished answer.
        logger.exception("quota bookkeeping failed after the answer")


def _record(event: dict[str, Any], model: str, outcome: Outcome, delivery: Delivery, started: float) -> None:
    """One log line and one set of EMF metrics per answer: figures only, never text."""
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
            "textChars": outcome.text_chars,
            "posts": stats.posts,
            "bytes": stats.bytes,
            "retries": stats.retries,
            "gone": stats.gone,
            "deliveryFailure": stats.failure,
            "upstreamClosedEarly": outcome.upstream_closed_early,
        },
    )
