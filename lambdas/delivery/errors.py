"""Why a post to a WebSocket connection failed, translated from the @connections API's errors."""

from __future__ import annotations


class PostError(Exception):
    """A post to the client failed and retrying it cannot help."""


class ConnectionGoneError(PostError):
    """The client is no longer connected (GoneException, HTTP 410)."""


class RetryablePostError(PostError):
    """The post may succeed later: throttled (LimitExceededException, 429), a 5xx, or a transport error."""
