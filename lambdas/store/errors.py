"""Why a table operation refused: the store's own errors. botocore's errors never leave the store; `translate`
turns them into these at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class StoreError(Exception):
    """A table operation failed."""


class NotFoundError(StoreError):
    """The item does not exist (or has expired)."""


class ForbiddenError(StoreError):
    """The item belongs to another user."""


class ConflictError(StoreError):
    """A condition refused the write: a concurrent change won (a requestId already used, a turn taken by another
    answer, a quota item changed since it was read).

    `refused` names the refused writes of a transaction (`Write.name`), each with the item as it was when DynamoDB
    returned it (`ReturnValuesOnConditionCheckFailure`), else None.
    """

    def __init__(self, message: str, refused: Mapping[str, dict[str, Any] | None] | None = None) -> None:
        super().__init__(message)
        self.refused: dict[str, dict[str, Any] | None] = dict(refused or {})


class QuotaError(Exception):
    """A quota could not be granted or checked."""


class QuotaExceededError(QuotaError):
    """The user is over a quota; `retry_after_s` says when trying again makes sense."""

    def __init__(self, quota: str, limit: int, retry_after_s: int) -> None:
        super().__init__(f"{quota} quota of {limit} reached; retry after {retry_after_s} s")
        self.quota = quota
        self.limit = limit
        self.retry_after_s = retry_after_s


class QuotaUnavailableError(QuotaError, StoreError):
    """The table failed while checking or recording a quota."""


def error_code(exc: ClientError | BotoCoreError) -> str:
    """DynamoDB's error code, or the transport failure's name (a timeout is not a ClientError)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def translate(exc: ClientError | BotoCoreError, doing: str) -> StoreError:
    """A botocore failure as the store's own error: a refused condition is a ConflictError."""
    code = error_code(exc)
    if code == "ConditionalCheckFailedException":
        return ConflictError(f"{doing}: condition refused")
    return StoreError(f"{doing} failed: {code}")
