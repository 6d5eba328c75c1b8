"""Posting bytes to one WebSocket connection through the @connections management API."""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lambdas import clients
from lambdas.config import settings
from lambdas.delivery.errors import ConnectionGoneError, PostError, RetryablePostError


class Poster(Protocol):
    def post(self, data: bytes) -> None:
        """Send one message; raise ConnectionGoneError, RetryablePostError or PostError."""
        ...


def connections_endpoint(request_context: dict[str, Any]) -> str:
    """The @connections endpoint for the API stage that delivered this event, unless configured otherwise
    (a custom domain, or localgw)."""
    configured = settings().connections_endpoint
    if configured:
        return configured.rstrip("/")
    return f"https://{request_context['domainName']}/{request_context['stage']}"


class ConnectionPoster:
    """The @connections API for one connection id: AWS errors become this package's own."""

    def __init__(self, client: Any, connection_id: str) -> None:
        self._client = client
        self.connection_id = connection_id

    @classmethod
    def for_event(cls, event: dict[str, Any]) -> ConnectionPoster:
        context = event["requestContext"]
        return cls(clients.connections(connections_endpoint(context)), context["connectionId"])

    def post(self, data: bytes) -> None:
        try:
            self._client.post_to_connection(ConnectionId=self.connection_id, Data=data)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code == "GoneException" or status == 410:
                raise ConnectionGoneError(self.connection_id) from exc
            if code == "LimitExceededException" or status == 429 or status >= 500:
                raise RetryablePostError(f"{code or status}: {exc}") from exc
            raise PostError(f"{code or status}: {exc}") from exc
        except BotoCoreError as exc:
            raise RetryablePostError(f"{type(exc).__name__}: {exc}") from exc
