"""Why a table operation refused: the store's own errors, translated from DynamoDB's at the edge."""

from __future__ import annotations


class StoreError(Exception):
    """A table operation failed."""


class NotFoundError(StoreError):
    """The item does not exist (or has expired)."""


class ForbiddenError(StoreError):
    """The item belongs to another user."""


class ConflictError(StoreError):
    """A concurrent change won (a requestId already used, a turn taken by another answer)."""
