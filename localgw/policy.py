"""IAM policy evaluation for a Lambda authorizer's answer, limited to what API Gateway checks on `$connect`.

Resource and action patterns use IAM's wildcards: `*` matches any run of characters (including `/`), `?` matches
one. So `arn:...:api/dev/*/*` does NOT match `arn:...:api/dev/$connect` — the trap of Powertools' `allow_all_routes()`
(Powertools issue #5800), reproduced here exactly as AWS behaves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

INVOKE_ACTION = "execute-api:Invoke"


class PolicyError(ValueError):
    """The authorizer's policy document is malformed (API Gateway answers 500)."""


def is_allowed(policy_document: Mapping[str, Any], resource_arn: str, action: str = INVOKE_ACTION) -> bool:
    """An explicit Deny wins; otherwise at least one Allow must match both the action and the resource."""
    statements = policy_document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyError("policyDocument.Statement must be a list or an object")
    allowed = False
    for statement in statements:
        if not isinstance(statement, Mapping):
            raise PolicyError("every policyDocument.Statement entry must be an object")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"Statement.Effect must be Allow or Deny, got {effect!r}")
        # IAM compares actions case-insensitively and ARNs exactly.
        if not _matches_any(statement.get("Action"), action, ignore_case=True):
            continue
        if not _matches_any(statement.get("Resource"), resource_arn, ignore_case=False):
            continue
        if effect == "Deny":
            return False
        allowed = True
    return allowed


def _matches_any(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise PolicyError("Statement.Action and Statement.Resource must be strings or lists of strings")
    return any(_compile(pattern, ignore_case).fullmatch(value) for pattern in patterns)


@lru_cache(maxsize=256)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern)
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))
