"""The `$connect` REQUEST authorizer: verify the client's JWT and answer API Gateway with an IAM policy.

The token comes from the `token` query parameter (browsers cannot set headers on a WebSocket) or, failing that,
from an `Authorization: Bearer` header (wscat -H, server-side clients). A refused token gets an explicit Deny (the
handshake fails with 403) rather than `raise Exception("Unauthorized")`: that 401 convention is documented for REST
APIs only, and a raise also counts as a function error. See docs/security.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import APIGatewayAuthorizerRequestEvent

from lambdas import auth
from lambdas.observability import count, logger

TOKEN_QUERY_PARAMETER = "token"
DENIED_PRINCIPAL = "anonymous"
"""API Gateway wants a principalId on every answer, Deny included."""

# Failures that are the operator's to fix, not the client's: logged at ERROR.
_OPERATOR_FAILURES = (auth.JwksUnavailableError, auth.AuthNotConfiguredError)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@event_source(data_class=APIGatewayAuthorizerRequestEvent)
def handler(event: APIGatewayAuthorizerRequestEvent, context: Any) -> dict[str, Any]:
    method_arn = event.method_arn
    token, source = token_from(event.raw_event)
    try:
        identity = auth.verify(token)
    except auth.AuthError as exc:
        _refused(event.raw_event, exc, source)
        return policy(DENIED_PRINCIPAL, "Deny", method_arn)
    except Exception:
        # A bug must not turn into a 500 storm that a crafted token can trigger at will; it still denies.
        logger.exception("authorizer failed", extra={"tokenSource": source})
        count("AuthorizerErrors")
        return policy(DENIED_PRINCIPAL, "Deny", method_arn)
    count("ConnectionsAuthorized")
    logger.info(
        "connection authorized",
        extra={"userId": identity.user_id, "tokenUse": identity.token_use, "audience": identity.audience},
    )
    return policy(identity.user_id, "Allow", method_arn, authorizer_context(identity))


def token_from(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(token, where it was found: "query" | "header"); the query parameter wins when both are present."""
    query = event.get("queryStringParameters") or {}
    token = (query.get(TOKEN_QUERY_PARAMETER) or "").strip()
    if token:
        return token, "query"
    for name, value in (event.get("headers") or {}).items():
        # Header names are case-insensitive; API Gateway passes them as the client wrote them.
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, credentials = value.strip().partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip(), "header"
    return None, None


def policy(principal_id: str, effect: str, method_arn: str, context: dict[str, str] | None = None) -> dict[str, Any]:
    """The authorizer's answer. Resource is exactly the `$connect` methodArn: Powertools'
    APIGatewayAuthorizerResponseWebSocket rebuilds ARNs with a hard-coded `aws` partition, and its REST sibling's
    `allow_all_routes()` yields `/stage/*/*`, which does not match `/stage/$connect` (Powertools issue #5800)."""
    answer: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
    }
    if context:
        answer["context"] = context
    return answer


def authorizer_context(identity: auth.Identity) -> dict[str, str]:
    """What later events carry in `requestContext.authorizer`: strings only. Bounded by the verifier (sub ≤ 255,
    username and email ≤ 256 characters), so the whole answer stays far below API Gateway's 8 KB."""
    # tokenExpiresAt: the token is checked once, at $connect, but a connection may live 2 h; later routes can compare.
    context = {"userId": identity.user_id, "tokenExpiresAt": str(identity.expires_at)}
    if identity.username:
        context["username"] = identity.username
    if identity.email:
        context["email"] = identity.email
    return context


def _refused(event: Mapping[str, Any], exc: auth.AuthError, source: str | None) -> None:
    count("ConnectionsDenied")
    identity = (event.get("requestContext") or {}).get("identity") or {}
    fields = {"reason": exc.reason, "detail": str(exc), "tokenSource": source, "sourceIp": identity.get("sourceIp")}
    if isinstance(exc, _OPERATOR_FAILURES):
        logger.error("connection denied: authentication is unavailable", extra=fields)
    else:
        logger.info("connection denied", extra=fields)
