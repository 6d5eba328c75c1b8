"""One `sendtext`, from the message to its last frame: admission, the relay loop, the finish.

Frames are always posted through @connections: the route has no route response, and a Lambda's return value would
be lost after API Gateway's 29 s integration timeout anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lambdas import clients
from lambdas.answer.admission import Accepted, Admission, CancelledBeforeStart, PartStored, Rejected
from lambdas.answer.control import ControlWatcher, Resumes
from lambdas.answer.finish import Finish
from lambdas.answer.relay import Guards, Outcome, relay
from lambdas.answer.report import report
from lambdas.config import Settings, settings
from lambdas.delivery.engine import Delivery, DeliveryOptions
from lambdas.delivery.poster import ConnectionPoster, connections_endpoint
from lambdas.delivery.reply import reply
from lambdas.delivery.retry import RetryPolicy
from lambdas.observability import count, logger
from lambdas.protocol import ErrorCode, error_frame
from lambdas.store import Store
from lambdas.tracing import span

_RETURN_MARGIN_S = 0.5
"""Time kept back from the Lambda's remaining time while waiting for the last frames to be posted."""


def delivery_options(config: Settings) -> DeliveryOptions:
    return DeliveryOptions(
        coalesce_s=config.coalesce_ms / 1000,
        max_chars=config.coalesce_max_chars,
        retry=RetryPolicy(max_attempts=config.post_max_attempts),
    )


class Answering:
    """Answers `sendtext` events with one store, admission and control watcher, shared by every answer of the
    execution environment."""

    def __init__(self, store: Store, admission: Admission, watcher: ControlWatcher) -> None:
        self._store = store
        self._admission = admission
        self._watcher = watcher

    def handle(self, event: dict[str, Any], context: Any) -> None:
        started = time.monotonic()
        config = settings()
        remaining_s = context.get_remaining_time_in_millis() / 1000
        try:
            with span("admission"):
                admitted = self._admission.admit(event, config, remaining_s, started)
        except Rejected as rejection:
            frame = rejection.frame
            count("RejectedRequests", code=frame["code"])
            logger.info("request rejected", extra={"code": frame["code"], "field": frame.get("field")})
            reply(event, frame)
            return
        if isinstance(admitted, PartStored):
            logger.info("part stored", extra={"requestId": admitted.request_id})
            return
        logger.set_correlation_id(admitted.request_id)
        connections = clients.connections(connections_endpoint(event["requestContext"]))
        delivery = Delivery(
            ConnectionPoster(connections, event["requestContext"]["connectionId"]),
            admitted.request_id,
            delivery_options(config),
        )

        def time_left() -> float:
            return max(0.0, context.get_remaining_time_in_millis() / 1000 - _RETURN_MARGIN_S)

        if isinstance(admitted, CancelledBeforeStart):
            self._cancelled(admitted, delivery, time_left())
            return
        self._answer(admitted, delivery, connections, config, context, time_left, event, started)

    def _answer(
        self,
        accepted: Accepted,
        delivery: Delivery,
        connections: Any,
        config: Settings,
        context: Any,
        time_left: Callable[[], float],
        event: dict[str, Any],
        started: float,
    ) -> None:
        resumes = Resumes(delivery, lambda connection_id: ConnectionPoster(connections, connection_id))
        finish = Finish(self._store, accepted, delivery, resumes)
        guards = Guards(
            context.get_remaining_time_in_millis,
            config.time_guard_ms,
            config.gone_grace_seconds,
            control=self._watcher.watch(accepted.answer),
            resumes=resumes,
            on_end=finish.settle,
            usage_cache=accepted.tool_fields.asked,
        )
        outcome = Outcome(status="error", error_code=ErrorCode.INTERNAL)
        try:
            delivery.start(accepted.alias, conversationId=accepted.conversation_id)
            with span("model stream"):
                outcome = relay(
                    accepted.provider.stream(accepted.model_request()), delivery, guards, started_at=started
                )
        except Exception:
            logger.exception("answer failed inside the relay")
            message = "The relay failed; the answer is incomplete."
            delivery.finish(
                lambda seq: error_frame(ErrorCode.INTERNAL, message, request_id=accepted.request_id, seq=seq)
            )
        with span("finish"):
            finish.close(outcome, time_left)
        report(event, accepted.alias, outcome, delivery, started)

    @staticmethod
    def _cancelled(cancelled: CancelledBeforeStart, delivery: Delivery, timeout: float) -> None:
        """Send the stored frames of an answer cancelled before it started."""
        start, done = cancelled.frames
        delivery.start(start["model"], conversationId=start["conversationId"])
        delivery.finish(lambda seq: done)
        delivery.wait(timeout=timeout)
        delivery.stop()
        logger.info("answer cancelled before it started")
