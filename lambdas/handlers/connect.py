"""`$connect`: remember the connection. Authentication (when configured) already happened in the authorizer."""

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
    authorizer = (event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    shared().connections.put(
        request.connection_id, request.connected_at, request.identity.source_ip, authorizer.get("principalId")
    )
    logger.info("connected", extra={"connectionId": request.connection_id})
    return {"statusCode": 200}
