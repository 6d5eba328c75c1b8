"""Python client of ws-llm-relay: `RelayClient` (asyncio) and the terminal chat (`python -m relay_client`).

async with RelayClient(url, token=token) as relay:
    answer = await relay.ask("Hello!")
    async for event in answer:
        if isinstance(event, Text):
            print(event.text, end="", flush=True)
"""

from relay_client.client import Answer, ConnectionState, RelayClient, StateChange, TokenSource, new_request_id
from relay_client.errors import (
    BadRequestError,
    ClientClosedError,
    ConflictError,
    ConnectionFailedError,
    ConnectionLostError,
    ErrorCode,
    ForbiddenError,
    InternalError,
    MessageTooBigError,
    ModelError,
    NotFoundError,
    RateLimitedError,
    RelayError,
    RequestTimeoutError,
    ThrottledError,
    UnauthorizedError,
    UnknownActionError,
    UpstreamUnavailableError,
)
from relay_client.events import (
    ConversationPage,
    ConversationSummary,
    Done,
    Error,
    Event,
    History,
    Metrics,
    Model,
    Result,
    Start,
    Text,
    Turn,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "ConnectionFailedError",
    "ConnectionLostError",
    "ConnectionState",
    "ConversationPage",
    "ConversationSummary",
    "Done",
    "Error",
    "ErrorCode",
    "Event",
    "ForbiddenError",
    "History",
    "InternalError",
    "MessageTooBigError",
    "Metrics",
    "Model",
    "ModelError",
    "NotFoundError",
    "RateLimitedError",
    "RelayClient",
    "RelayError",
    "RequestTimeoutError",
    "Result",
    "Start",
    "StateChange",
    "Text",
    "ThrottledError",
    "TokenSource",
    "Turn",
    "UnauthorizedError",
    "UnknownActionError",
    "UpstreamUnavailableError",
    "Usage",
    "new_request_id",
]
