"""`models`: tells the caller which model aliases it may name in `sendtext`, and which one is the default."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas.catalogue import load_catalogue
from lambdas.delivery.reply import reply
from lambdas.observability import logger


def models_frame() -> dict[str, Any]:
    """`{"type": "models", "models": [{"id", "provider", "default", "tools", "reasoning", "attachments"}]}`, in
    catalogue order."""
    current = load_catalogue()
    return {
        "type": "models",
        "models": [
            {
                "id": alias,
                "provider": spec.provider,
                "default": alias == current.default,
                "tools": spec.supports_tools,
                "reasoning": spec.supports_reasoning,
                "attachments": list(spec.attachments),
            }
            for alias, spec in current.models.items()
        ],
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    frame = models_frame()
    logger.info("models listed", extra={"count": len(frame["models"])})
    reply(event, frame)
    return {"statusCode": 200}
