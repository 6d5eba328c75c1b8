"""`$disconnect`: forget the connection (best-effort on AWS's side too: the item's TTL covers a missed call)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayWebSocketEvent, event_source

from lambdas.observability import logger
from lambdas.store import shared


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@event_source(data_class=APIGatewayWebSocketEvent)
def handler(event: APIGatewayWebSocketEvent, context: Any) -> dict[str, Any]:
    request = event.request_context
    shared().connections.delete(request.connection_id)
    logger.info(
        "disconnected",
        extra={
            "connectionId": request.connection_id,
            "disconnectStatusCode": request.disconnect_status_code,
            "disconnectReason": request.disconnect_reason,
        },
    )
    return {"statusCode": 200}
