"""Pure builders for the events API Gateway sends a WebSocket API's Lambda functions.

Shapes follow real events (Powertools' test events `apiGatewayWebSocketApi*.json`,
`apiGatewayAuthorizerWebSocketEvent.json`) and /work/shared/REFERENCE.md. Every builder shares `request_context()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Headers the upgrade request carries that API Gateway does not pass to the integration.
_HOP_BY_HOP = frozenset({"connection", "upgrade"})


@dataclass(frozen=True, slots=True)
class Api:
    """The deployed API an event comes from."""

    api_id: str
    stage: str
    domain_name: str
    region: str
    account_id: str

    def method_arn(self, route_key: str) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/{route_key}"


@dataclass(frozen=True, slots=True)
class Peer:
    """The client end of one connection, fixed at upgrade time."""

    connection_id: str
    connected_at_ms: int
    source_ip: str
    user_agent: str | None
    authorizer: Mapping[str, str] | None = None
    """principalId and the authorizer's context, stringified; None when the API has no authorizer."""


def request_time(epoch_ms: int) -> str:
    """`19/Jan/2023:21:13:26 +0000` (built by hand: `%b` would follow the process locale)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:{moment:%H:%M:%S} +0000"


def request_context(
    api: Api,
    peer: Peer,
    *,
    route_key: str,
    event_type: str,
    request_id: str,
    request_time_ms: int,
    with_user_agent: bool = False,
) -> dict[str, Any]:
    identity: dict[str, str] = {"sourceIp": peer.source_ip}
    if with_user_agent and peer.user_agent is not None:
        identity["userAgent"] = peer.user_agent
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(request_time_ms),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": peer.connected_at_ms,
        "requestTimeEpoch": request_time_ms,
        "identity": identity,
        "requestId": request_id,
        "domainName": api.domain_name,
        "connectionId": peer.connection_id,
        "apiId": api.api_id,
    }
    if peer.authorizer is not None:
        context["authorizer"] = dict(peer.authorizer)
    return context


def connect_event(
    api: Api,
    peer: Peer,
    *,
    request_id: str,
    request_time_ms: int,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """`$connect`: headers and query string of the upgrade request; the query keys are absent without a query."""
    event: dict[str, Any] = {
        **_header_fields(_proxy_headers(headers, peer.source_ip)),
        **_query_fields(query, absent_when_empty=True),
        "requestContext": request_context(
            api,
            peer,
            route_key="$connect",
            event_type="CONNECT",
            request_id=request_id,
            request_time_ms=request_time_ms,
            with_user_agent=True,
        ),
        "isBase64Encoded": False,
    }
    return event


def message_event(
    api: Api,
    peer: Peer,
    *,
    route_key: str,
    body: str,
    request_id: str,
    message_id: str,
    request_time_ms: int,
) -> dict[str, Any]:
    """A MESSAGE route: the frame text as `body`, no headers, no query string."""
    context = request_context(
        api, peer, route_key=route_key, event_type="MESSAGE", request_id=request_id, request_time_ms=request_time_ms
    )
    context["messageId"] = message_id
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    api: Api,
    peer: Peer,
    *,
    request_id: str,
    request_time_ms: int,
    status_code: int,
    reason: str,
) -> dict[str, Any]:
    """`$disconnect`: the few headers API Gateway sends (copied from a real event) and why the socket closed."""
    headers = [("Host", api.domain_name), ("x-api-key", ""), ("X-Forwarded-For", ""), ("x-restapi", "")]
    context = request_context(
        api,
        peer,
        route_key="$disconnect",
        event_type="DISCONNECT",
        request_id=request_id,
        request_time_ms=request_time_ms,
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {**_header_fields(headers), "requestContext": context, "isBase64Encoded": False}


def authorizer_event(
    api: Api,
    peer: Peer,
    *,
    request_id: str,
    request_time_ms: int,
    headers: Iterable[tuple[str, str]],
    query: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """The REQUEST authorizer event for `$connect`. Unlike the proxy event its query and stage-variable maps are
    present and empty when there is nothing in them, and it keeps the Connection/Upgrade headers."""
    context = request_context(
        api, peer, route_key="$connect", event_type="CONNECT", request_id=request_id, request_time_ms=request_time_ms
    )
    context.pop("authorizer", None)
    return {
        "type": "REQUEST",
        "methodArn": api.method_arn("$connect"),
        **_header_fields(_with_forwarding(list(headers), peer.source_ip)),
        **_query_fields(query, absent_when_empty=False),
        "stageVariables": {},
        "requestContext": context,
    }


def _proxy_headers(headers: Iterable[tuple[str, str]], source_ip: str) -> list[tuple[str, str]]:
    kept = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    return _with_forwarding(kept, source_ip)


def _with_forwarding(headers: list[tuple[str, str]], source_ip: str) -> list[tuple[str, str]]:
    # API Gateway's edge adds these; handlers that log the client address read X-Forwarded-For.
    present = {name.lower() for name, _ in headers}
    added = [
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    return headers + [(name, value) for name, value in added if name.lower() not in present]


def _header_fields(headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value  # the last value wins, as in API Gateway's v1 payload
        multi.setdefault(name, []).append(value)
    return {"headers": single, "multiValueHeaders": multi}


def _query_fields(query: Iterable[tuple[str, str]], *, absent_when_empty: bool) -> dict[str, Any]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in query:
        single[name] = value
        multi.setdefault(name, []).append(value)
    if not single and absent_when_empty:
        return {}
    return {"queryStringParameters": single, "multiValueQueryStringParameters": multi}
