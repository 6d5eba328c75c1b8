"""The REST API's Lambda REQUEST authorizer for the OpenAI-compatible channel: the `$connect` authorizer's verifier
and policy, with REST's conventions for the answer.

A refused token raises `Exception("Unauthorized")`: on a REST API that is the documented way to answer 401, which the
OpenAI SDKs raise as AuthenticationError (an explicit Deny would be a 403 PermissionDeniedError). A failure that is
the operator's (JWKS unreachable, auth not configured) raises anything else: API Gateway answers 500. Results are not
cached (the stack sets TTL 0), so the policy names exactly the method called, like the `$connect` one.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from lambdas import auth
from lambdas.handlers.authorizer import authorizer_context, policy, token_from
from lambdas.observability import count, logger

UNAUTHORIZED = "Unauthorized"
"""The exact message API Gateway turns into 401."""


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token, source = token_from({"headers": event.get("headers")})  # header only: HTTP clients can set one
    try:
        identity = auth.verify(token)
    except (auth.JwksUnavailableError, auth.AuthNotConfiguredError):
        logger.exception("HTTP request denied: authentication is unavailable")
        raise
    except auth.AuthError as exc:
        count("HttpRequestsDenied")
        logger.info("HTTP request denied", extra={"reason": exc.reason, "tokenSource": source})
        raise Exception(UNAUTHORIZED) from None
    count("HttpRequestsAuthorized")
    return policy(identity.user_id, "Allow", event["methodArn"], authorizer_context(identity))
