"""Python client of ws-llm-relay: `RelayClient` (asyncio) and the terminal chat (`python -m relay_client`).

async with RelayClient(url, token=token) as relay:
    answer = await relay.ask("Hello!")
    async for event in answer:
        if isinstance(event, Text):
            print(event.text, end="", flush=True)
"""

from relay_client.attachments import ATTACHMENT_TYPES, Attachment
from relay_client.client import Answer, ConnectionState, RelayClient, StateChange, TokenSource, new_request_id
from relay_client.errors import (
    AttachmentRefusedError,
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
    UploadFailedError,
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
    Reasoning,
    Result,
    Start,
    Text,
    ToolUse,
    Turn,
    Usage,
)
from relay_client.parts import FRAME_BUDGET_BYTES, FRAME_LIMIT_BYTES, MAX_PARTS, split_sendtext

__version__ = "0.2.0"

__all__ = [
    "ATTACHMENT_TYPES",
    "FRAME_BUDGET_BYTES",
    "FRAME_LIMIT_BYTES",
    "MAX_PARTS",
    "Answer",
    "Attachment",
    "AttachmentRefusedError",
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
    "Reasoning",
    "RelayClient",
    "RelayError",
    "RequestTimeoutError",
    "Result",
    "Start",
    "StateChange",
    "Text",
    "ThrottledError",
    "TokenSource",
    "ToolUse",
    "Turn",
    "UnauthorizedError",
    "UnknownActionError",
    "UploadFailedError",
    "UpstreamUnavailableError",
    "Usage",
    "new_request_id",
    "split_sendtext",
]
