"""The `$connect` Lambda REQUEST authorizer: identity sources, and reading the authorizer's answer.

Pure functions; the WebSocket endpoint invokes the authorizer between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from localgw.options import MAX_AUTHORIZER_RESULT_BYTES
from localgw.policy import PolicyError, is_allowed

_HEADER = "route.request.header."
_QUERY = "route.request.querystring."


class AuthorizerResultError(ValueError):
    """The authorizer returned something API Gateway cannot use (it answers 500)."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int
    """200 when allowed; 403 for Deny or a policy that does not cover `$connect`."""
    why: str
    authorizer_context: dict[str, str] | None = None
    """principalId and context, stringified: what later events carry as `requestContext.authorizer`."""


def validate_identity_sources(identity_sources: Iterable[str]) -> None:
    for source in identity_sources:
        if not source.startswith((_HEADER, _QUERY)) or source in (_HEADER, _QUERY):
            raise ValueError(
                f"identity source {source!r}: localgw supports route.request.header.<name> and "
                "route.request.querystring.<name>"
            )


def missing_identity(
    identity_sources: Iterable[str], headers: Mapping[str, str], query: Mapping[str, str]
) -> str | None:
    """The first identity source that is absent or empty (API Gateway then answers 401 without calling the
    authorizer). `headers` must be case-insensitive, as HTTP header names are."""
    for source in identity_sources:
        is_header = source.startswith(_HEADER)
        value = headers.get(source[len(_HEADER) :]) if is_header else query.get(source[len(_QUERY) :])
        if not value:
            return source
    return None


def decide(result: Any, method_arn: str) -> Decision:
    """Read an authorizer's return value. Raises AuthorizerResultError when it is unusable."""
    if not isinstance(result, Mapping):
        raise AuthorizerResultError(f"the authorizer returned {type(result).__name__}, not an object")
    try:
        size = len(json.dumps(result, default=str).encode())
    except (TypeError, ValueError) as exc:
        raise AuthorizerResultError(f"the authorizer's answer is not JSON: {exc}") from exc
    if size > MAX_AUTHORIZER_RESULT_BYTES:
        raise AuthorizerResultError(f"the authorizer's answer is {size} bytes; API Gateway allows 8 KB")
    principal = result.get("principalId")
    policy = result.get("policyDocument")
    if principal is None or not isinstance(policy, Mapping):
        raise AuthorizerResultError("the authorizer's answer needs principalId and policyDocument")
    try:
        allowed = is_allowed(policy, method_arn)
    except PolicyError as exc:
        raise AuthorizerResultError(str(exc)) from exc
    if not allowed:
        return Decision(False, 403, f"the policy does not allow {method_arn}")
    context = {"principalId": _stringify("principalId", principal)}
    for key, value in (result.get("context") or {}).items():
        if value is not None:
            context[key] = _stringify(f"context.{key}", value)
    return Decision(True, 200, "allowed", context)


def _stringify(key: str, value: Any) -> str:
    # API Gateway passes the context on as strings; only scalars are allowed in it.
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise AuthorizerResultError(f"{key}: only strings, numbers and booleans are allowed, got {type(value).__name__}")
