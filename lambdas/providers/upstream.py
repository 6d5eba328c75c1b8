"""The life every upstream stream shares, written once for every provider."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from lambdas.providers.errors import UPSTREAM_FAILURES, from_exception
from lambdas.providers.events import TERMINAL, ErrorKind, Event, Start, UpstreamError
from lambdas.providers.streams import LineTooLongError

STREAM_ENDED_EARLY = "the model's stream ended before the answer did"


def guarded(model: str, events: Iterator[Event], close: Callable[[], None]) -> Iterator[Event]:
    """`Start`, then the decoded `events` up to the terminal one, whatever goes wrong.

    A stream that ends without a terminal event is an `unavailable` error; an upstream failure (botocore, urllib3,
    a socket) or bytes that cannot be decoded become one error event; and the response is closed in every case —
    closing it is what makes the upstream stop generating (and billing) tokens.
    """
    try:
        yield Start(model)
        for event in events:
            yield event
            if isinstance(event, TERMINAL):
                return
        yield UpstreamError(ErrorKind.UNAVAILABLE, STREAM_ENDED_EARLY)
    except UPSTREAM_FAILURES as exc:
        yield from_exception(exc)
    except LineTooLongError as exc:
        yield UpstreamError(ErrorKind.INTERNAL, str(exc), upstream_code="LineTooLong")
    except ValueError as exc:
        yield UpstreamError(ErrorKind.INTERNAL, f"undecodable output from the upstream: {exc}")
    finally:
        close()
