"""`RelayClient`: one WebSocket to the relay, kept open, and the answers streaming over it.

What a caller never sees: the socket dropping and coming back (capped exponential backoff with jitter, a fresh
token on every attempt when `token` is a callable; a connection that is closed before it delivered anything counts
as a failed attempt, so there is never a reconnect loop), every answer in flight resumed after the last `seq` it
received, duplicate frames dropped, frames of concurrent answers routed by `requestId`, long text sent as
`sendtext` parts under the frame limit, a message the gateway refused as too big (close 1009) failing its own `ask`
instead of being sent again.

    async with RelayClient("ws://127.0.0.1:8080/dev", token=token) as relay:
        answer = await relay.ask("Hello!")
        async for event in answer:
            if isinstance(event, Text):
                print(event.text, end="", flush=True)
        print((await answer.result()).usage)
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import json
import logging
import os
import random
import re
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from relay_client import attachments
from relay_client.attachments import Attachment
from relay_client.errors import (
    AttachmentRefusedError,
    ClientClosedError,
    ConnectionFailedError,
    ErrorCode,
    MessageTooBigError,
    RelayError,
    RequestTimeoutError,
    UnauthorizedError,
    UploadFailedError,
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
    parse_event,
)
from relay_client.parts import FRAME_BUDGET_BYTES, SplitError, encode, split_sendtext

log = logging.getLogger("relay_client")

TokenSource = Union[str, Callable[[], Union[str, Awaitable[str]]], None]  # noqa: UP007 - runtime alias, Python 3.10
"""A token, or a (sync or async) callable returning one, called on every connection attempt."""

CLOSE_MESSAGE_TOO_BIG = 1009
_REQUEST_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")


class ConnectionState(str, enum.Enum):
    CONNECTING = "connecting"  # the first connection is being opened
    OPEN = "open"
    RECONNECTING = "reconnecting"  # the connection dropped; answers in flight resume once it is back
    FAILED = "failed"  # gave up after `max_attempts`: everything in flight failed with ConnectionFailedError
    CLOSED = "closed"  # closed by `close()`


@dataclass(frozen=True, slots=True)
class StateChange:
    """`attempt`: failed attempts so far (0 when open); `delay`: seconds until the next attempt;
    `error`: why the last attempt or connection failed."""

    state: ConnectionState
    attempt: int = 0
    delay: float = 0.0
    error: BaseException | None = None


def new_request_id() -> str:
    """A fresh requestId in the relay's alphabet (22 characters, like the relay's own)."""
    return secrets.token_urlsafe(16)


class Answer:
    """One answer, as it streams. Iterate it for typed events (`async for event in answer`; several iterations
    each see every event from the start), or await its outcome: `await answer.text()`, `await answer.result()`
    (`await answer.done` is the same), both raising the answer's `RelayError` if it ended with an error."""

    def __init__(self, client: RelayClient, request_id: str, message: dict[str, Any]) -> None:
        self._client = client
        self.request_id = request_id
        self.model: str | None = message.get("model")
        self.conversation_id: str | None = message.get("conversationId")
        self._message = message
        self._events: list[Event] = []
        self._frames: list[dict[str, Any]] = []
        self._parts: list[str] = []
        self._reasoning: list[str] = []
        self._tool_uses: list[ToolUse] = []
        self._messages: list[dict[str, Any]] = [message]  # on the wire: the message or its parts
        self._early: dict[int, dict[str, Any]] = {}
        self._next_seq = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._outcome: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        # An error nobody awaited is not "never retrieved": the events told the story.
        self._outcome.add_done_callback(lambda future: future.cancelled() or future.exception())
        self.duplicates = 0
        """Frames dropped because their seq was already seen (after a resume or a retried post)."""
        # delivery bookkeeping, owned by RelayClient
        self._dispatched_on = -1  # the connection generation the last sendtext/resume went out on
        self._sendtext_on = -1  # the connection generation the last sendtext went out on
        self._sent = False  # a sendtext went out at least once: reconnects resume instead of asking again
        self._resending = False  # the last sendtext was a re-send after `resume` found nothing
        self._acked_on = -1  # the generation a frame of this answer last arrived on
        self._sent_bytes = 0
        self._cancel_requested = False

    # -- the caller's side -----------------------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        """The last seq received in order (-1: none): what a resume continues after."""
        return self._next_seq - 1

    @property
    def finished(self) -> bool:
        return self._outcome.done()

    @property
    def done(self) -> asyncio.Future[Result]:
        """Awaitable: the Result once the answer ends (raises its RelayError if it ended with an error)."""
        return self._outcome

    async def result(self) -> Result:
        return await asyncio.shield(self._outcome)

    async def text(self) -> str:
        """The whole text of the answer once it ends; raises RelayError if it ended with an error."""
        return (await self.result()).text

    @property
    def text_so_far(self) -> str:
        return "".join(self._parts)

    @property
    def reasoning_so_far(self) -> str:
        return "".join(self._reasoning)

    @property
    def tool_uses(self) -> tuple[ToolUse, ...]:
        """The tool calls so far (protocol v2)."""
        return tuple(self._tool_uses)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate(self._events)

    def frames(self) -> AsyncIterator[dict[str, Any]]:
        """The answer's raw frames in seq order, duplicates dropped, unknown frame types included."""
        return self._iterate(self._frames)

    async def cancel(self) -> None:
        """Ask the relay to stop this answer: it ends with `Done(stop_reason="cancelled")` within about a
        second (the text so far is kept). Does nothing once the answer has ended."""
        if self.finished or self._cancel_requested:
            return
        self._cancel_requested = True
        await self._client._send_cancel(self)

    def __repr__(self) -> str:
        state = "finished" if self.finished else "streaming"
        return f"<Answer {self.request_id} {state} seq={self.last_seq}>"

    async def _iterate(self, items: list[Any]) -> AsyncIterator[Any]:
        index = 0
        while True:
            while index < len(items):
                yield items[index]
                index += 1
            if self.finished:
                return
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    # -- the client's side -----------------------------------------------------------------------------------

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _receive(self, frame: dict[str, Any]) -> None:
        """Take one frame of this answer (any order, duplicates possible)."""
        seq = frame.get("seq")
        if not isinstance(seq, int):
            self._client._refusal(self, frame)
            return
        self._acked_on = self._client._generation
        if seq < self._next_seq or seq in self._early:
            self.duplicates += 1
            return
        self._early[seq] = frame
        while self._next_seq in self._early and not self.finished:
            self._apply(self._early.pop(self._next_seq))
            self._next_seq += 1
        self._wake()

    def _apply(self, frame: dict[str, Any]) -> None:
        self._frames.append(frame)
        event = parse_event(frame)
        if event is None:
            return  # a frame type of a later protocol version: its seq counts, nothing to show
        self._events.append(event)
        if isinstance(event, Start):
            self.model = event.model or self.model
            self.conversation_id = event.conversation_id or self.conversation_id
        elif isinstance(event, Text):
            self._parts.append(event.text)
        elif isinstance(event, Reasoning):
            self._reasoning.append(event.text)
        elif isinstance(event, ToolUse):
            self._tool_uses.append(event)
        elif isinstance(event, Done):
            self._finish_done(event)
        elif isinstance(event, Error):
            self._finish_error(event.error)

    def _finish_done(self, event: Done) -> None:
        self._early.clear()
        if not self._outcome.done():
            self._outcome.set_result(
                Result(
                    self.request_id,
                    self.text_so_far,
                    event.stop_reason,
                    event.usage,
                    event.metrics,
                    self.model,
                    self.conversation_id,
                    self.reasoning_so_far,
                    self.tool_uses,
                )
            )
        self._client._forget(self)
        self._wake()

    def _finish_error(self, error: RelayError) -> None:
        self._early.clear()
        if not self._events or not isinstance(self._events[-1], Error):
            self._events.append(Error(self.request_id, None, error, dict(error.frame or {})))
        if not self._outcome.done():
            self._outcome.set_exception(error)
        self._client._forget(self)
        self._wake()

    def _fail(self, error: RelayError) -> None:
        """End the answer with an error that did not come as a frame (connection failure, 1009, close)."""
        if not self.finished:
            error.request_id = error.request_id or self.request_id
            self._finish_error(error)

    def _finish_cancelled_locally(self) -> None:
        """A cancel of an answer the relay never took: it ends as if the relay had cancelled it before start."""
        if not self.finished:
            frame = {"type": "done", "requestId": self.request_id, "stopReason": "cancelled", "local": True}
            event = Done(self.request_id, None, "cancelled", Usage(), Metrics(), frame)
            self._events.append(event)
            self._finish_done(event)


@dataclass(slots=True)
class _Call:
    """The one control request (models, history, conversations) in flight: their replies carry no requestId,
    so they go one at a time."""

    message: dict[str, Any]
    reply_type: str
    future: asyncio.Future[list[dict[str, Any]]]
    frames: list[dict[str, Any]]
    sent_on: int = -1


class RelayClient:
    """A connection to the relay that outlives dropped sockets.

    `url`: the WebSocket URL (`wss://{api}.execute-api.{region}.amazonaws.com/{stage}`, or localgw's
    `ws://127.0.0.1:8080/dev`). `token`: a string, or a sync/async callable called on every connection attempt
    (sent as `?token=`). `max_attempts`: consecutive failed connection attempts before giving up (then
    everything in flight fails with ConnectionFailedError); a connection closed before a frame arrived on it and
    within `stable_after` seconds counts as a failed attempt too. The delay between attempts doubles from
    `backoff_base` up to `backoff_max` seconds, each drawn between half and all of it. `on_state`: called (sync or
    async) with every StateChange. `request_timeout`: seconds to wait for a models/history/conversations/attach
    reply (and an upload). `max_frame_bytes`: the most one message takes on the wire; a longer `sendtext` goes out
    in parts (None: never split, one frame whatever its size).
    """

    def __init__(
        self,
        url: str,
        token: TokenSource = None,
        *,
        max_attempts: int = 8,
        backoff_base: float = 0.25,
        backoff_max: float = 8.0,
        open_timeout: float = 10.0,
        request_timeout: float = 30.0,
        max_frame_bytes: int | None = FRAME_BUDGET_BYTES,
        stable_after: float = 10.0,
        on_state: Callable[[StateChange], Any] | None = None,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.open_timeout = open_timeout
        self.request_timeout = request_timeout
        self.max_frame_bytes = max_frame_bytes
        self.stable_after = stable_after
        self._on_state = on_state
        self._connect_options = dict(connect_options or {})
        self._state = ConnectionState.CLOSED
        self._state_queues: list[asyncio.Queue[StateChange]] = []
        self._ws: ClientConnection | None = None
        self._generation = 0
        self._answers: dict[str, Answer] = {}
        self._call: _Call | None = None
        self._call_lock: asyncio.Lock | None = None
        self._send_lock: asyncio.Lock | None = None
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._failure: RelayError | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.token_calls = 0
        """How many times a token was obtained (one per connection attempt)."""

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> RelayClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def connection(self) -> ClientConnection | None:
        """The current WebSocket (None while reconnecting): for diagnostics, never needed to use the client."""
        return self._ws

    async def connect(self) -> None:
        """Open the connection (retrying like a reconnect); raises ConnectionFailedError/UnauthorizedError."""
        if self._runner is not None:
            return
        self._call_lock = asyncio.Lock()
        self._send_lock = asyncio.Lock()
        self._closing = False
        self._failure = None
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._supervise(opened), name="relay-client")
        try:
            await opened
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection; anything still in flight fails with ClientClosedError."""
        self._closing = True
        runner, self._runner = self._runner, None
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if runner is not None and runner is not asyncio.current_task():
            runner.cancel()
            with contextlib.suppress(BaseException):
                await runner
        self._fail_everything(ClientClosedError(ErrorCode.CLOSED.value, "the client was closed"))
        if self._state != ConnectionState.FAILED:
            self._set_state(StateChange(ConnectionState.CLOSED))

    async def states(self) -> AsyncIterator[StateChange]:
        """Every connection state change from now on, until the client is closed or fails."""
        queue: asyncio.Queue[StateChange] = asyncio.Queue()
        self._state_queues.append(queue)
        try:
            while True:
                change = await queue.get()
                yield change
                if change.state in (ConnectionState.CLOSED, ConnectionState.FAILED):
                    return
        finally:
            self._state_queues.remove(queue)

    # -- the protocol ------------------------------------------------------------------------------------------

    async def ask(
        self,
        text: str | None = None,
        *,
        model: str | None = None,
        conversation_id: str | None = None,
        system: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        tool_results: Sequence[Mapping[str, Any]] | None = None,
        reasoning: bool | Mapping[str, Any] | None = None,
        attachments: Sequence[str | Attachment] | None = None,
        request_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Answer:
        """Send `text` to the model; returns at once with the Answer, which streams.

        Fields left None are not sent (the relay's defaults apply). Protocol v2: `tools` (`{"name", "description",
        "inputSchema"}`), `tool_choice`, `tool_results` (`{"toolUseId", "content", "status"}`, answering the
        previous answer's ToolUse events; `text` may then be None), `reasoning` (True or `{"budgetTokens": N}`),
        `attachments` (from `attach()`). A text longer than one frame goes out as parts. `extra` adds fields to the
        `sendtext` message as they are. A message no split can fit raises MessageTooBigError here; everything the
        relay refuses ends the answer with an `Error` event and makes `text()`/`result()` raise.
        """
        self._check_usable()
        request_id = request_id or new_request_id()
        if not _REQUEST_ID.match(request_id):
            raise RelayError.from_frame(
                {
                    "code": "bad_request",
                    "message": "requestId: expected 1 to 64 characters of [A-Za-z0-9_-]",
                    "field": "requestId",
                }
            )
        if request_id in self._answers:
            raise RelayError.from_frame(
                {"code": "bad_request", "message": "requestId: already in flight", "field": "requestId"}
            )
        fields = {
            "text": text,
            "requestId": request_id,
            "model": model,
            "conversationId": conversation_id,
            "system": system,
            "maxTokens": max_tokens,
            "temperature": temperature,
            "tools": list(tools) if tools is not None else None,
            "toolChoice": tool_choice,
            "toolResults": list(tool_results) if tool_results is not None else None,
            "reasoning": reasoning,
            "attachments": [item.attachment_id if isinstance(item, Attachment) else item for item in attachments or ()]
            or None,
        }
        message: dict[str, Any] = {"action": "sendtext"}
        message.update({name: value for name, value in fields.items() if value is not None})
        message.update(extra or {})
        try:
            messages = split_sendtext(message, self.max_frame_bytes) if self.max_frame_bytes else [message]
        except SplitError as exc:
            raise MessageTooBigError(
                ErrorCode.MESSAGE_TOO_BIG.value, f"the message cannot be sent: {exc}", request_id=request_id
            ) from None
        answer = Answer(self, request_id, message)
        answer._messages = messages
        answer._sent_bytes = sum(len(encode(part)) for part in messages)
        self._answers[request_id] = answer
        await self._dispatch(answer)
        return answer

    async def models(self) -> list[Model]:
        """The models you may ask for; pass an `id` as `ask(model=...)`."""
        (frame,) = await self._control({"action": "models"}, "models")
        return [
            Model(
                str(item.get("id")),
                item.get("provider"),
                bool(item.get("default")),
                item.get("tools") is True,
                item.get("reasoning") is True,
                tuple(item.get("attachments") or ()),
            )
            for item in frame.get("models") or []
        ]

    async def attach(
        self,
        file: str | os.PathLike[str] | bytes,
        *,
        file_name: str | None = None,
        content_type: str | None = None,
        kinds: Sequence[str] | None = None,
    ) -> Attachment:
        """Upload a file (a path, or bytes with `file_name`) for `ask(attachments=[...])`.

        The relay gives a presigned POST (`attach` → `upload` frame); the bytes go there in a multipart POST, not
        over the WebSocket. A type or size the relay refuses (or a kind not in `kinds`, e.g. a model's
        `attachments`) raises AttachmentRefusedError before anything is sent; a failed upload UploadFailedError.
        """
        if isinstance(file, bytes | bytearray):
            name, size, path = file_name or "attachment", len(file), None
        else:
            path = Path(file)
            name, size = file_name or path.name, (await asyncio.to_thread(path.stat)).st_size
        ctype = content_type or attachments.content_type_for(name)
        problem = attachments.check(name, ctype, size, tuple(kinds) if kinds is not None else None)
        if problem is not None:
            raise AttachmentRefusedError(problem.message, problem.reason)
        data = bytes(file) if path is None else await asyncio.to_thread(path.read_bytes)  # type: ignore[arg-type]
        request = {"action": "attach", "fileName": name, "contentType": ctype, "size": len(data)}
        (frame,) = await self._control(request, "upload")
        body, header = attachments.multipart(dict(frame.get("fields") or {}), name, ctype, data)
        try:
            status = await asyncio.to_thread(attachments.post, str(frame["url"]), body, header, self.request_timeout)
        except OSError as exc:
            raise UploadFailedError(
                ErrorCode.UPLOAD_FAILED.value, f"the upload of {name} failed: {exc}", retryable=True
            ) from exc
        if not 200 <= status < 300:
            raise UploadFailedError(
                ErrorCode.UPLOAD_FAILED.value, f"the upload of {name} failed (HTTP {status})", retryable=status >= 500
            )
        return Attachment(str(frame.get("attachmentId")), name, ctype, len(data), frame.get("expiresIn"))

    async def history(self, conversation_id: str) -> History:
        """The turns of one of your conversations, oldest first."""
        frames = await self._control({"action": "history", "conversationId": conversation_id}, "history")
        turns: list[Turn] = []
        for frame in frames:
            for entry in frame.get("turns") or []:
                piece = Turn(
                    int(entry.get("turn", 0)),
                    str(entry.get("role", "")),
                    str(entry.get("text") or ""),
                    entry.get("at"),
                    entry.get("requestId"),
                    entry.get("status"),
                    entry.get("stop"),
                    tuple(entry.get("toolUses") or ()),
                    tuple(entry.get("toolResults") or ()),
                    entry.get("reasoning"),
                    tuple(entry.get("attachments") or ()),
                )
                if turns and turns[-1].turn == piece.turn and turns[-1].role == piece.role:
                    piece = _joined(turns.pop(), piece)  # a long turn split across entries
                turns.append(piece)
        title = frames[-1].get("title") if frames else None
        return History(conversation_id, title, turns)

    async def conversations(self, cursor: str | None = None, limit: int | None = None) -> ConversationPage:
        """One page of your conversations, newest first (`limit` 1-50, the relay's default 20)."""
        message: dict[str, Any] = {"action": "conversations"}
        if cursor is not None:
            message["cursor"] = cursor
        if limit is not None:
            message["limit"] = limit
        (frame,) = await self._control(message, "conversations")
        return ConversationPage(
            [
                ConversationSummary(
                    str(item.get("conversationId")), item.get("title"), item.get("updatedAt"), item.get("turns")
                )
                for item in frame.get("conversations") or []
            ],
            frame.get("next"),
        )

    # -- sending -----------------------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise self._failure
        if self._runner is None:
            raise ClientClosedError(ErrorCode.CLOSED.value, "the client is not connected (use `async with`)")

    async def _send(self, ws: ClientConnection, message: dict[str, Any]) -> bool:
        """Send on `ws` as one frame; False if the socket is gone (the reconnect follows)."""
        data = encode(message).decode("utf-8", "surrogatepass")
        assert self._send_lock is not None
        try:
            async with self._send_lock:
                await ws.send(data)
            return True
        except ConnectionClosed:
            return False

    async def _send_sendtext(self, ws: ClientConnection, answer: Answer) -> None:
        """The answer's sendtext, or its parts back to back (the relay starts it once it holds all of them)."""
        for message in answer._messages:
            if not await self._send(ws, message):
                return

    async def _dispatch(self, answer: Answer) -> None:
        """Put the answer on the current connection: ask (never sent yet) or resume (sent before)."""
        ws, generation = self._ws, self._generation
        if ws is None or answer.finished or answer._dispatched_on == generation:
            return  # the reconnect dispatches it
        answer._dispatched_on = generation
        if not answer._sent:
            answer._sent = True
            answer._sendtext_on = generation
            await self._send_sendtext(ws, answer)
        else:
            await self._send(ws, {"action": "resume", "requestId": answer.request_id, "after": answer.last_seq})
        if answer._cancel_requested and not answer.finished:
            await self._send(ws, {"action": "cancel", "requestId": answer.request_id})

    async def _send_cancel(self, answer: Answer) -> None:
        if not answer._sent:
            answer._finish_cancelled_locally()  # never reached the relay: nothing to stop
            return
        ws = self._ws
        if ws is not None and answer._dispatched_on == self._generation:
            await self._send(ws, {"action": "cancel", "requestId": answer.request_id})
        # else: the reconnect resumes the answer and sends the cancel after the resume

    def _refusal(self, answer: Answer, frame: dict[str, Any]) -> None:
        """An error frame without seq for this answer: a refusal of sendtext, resume or cancel."""
        if frame.get("type") != "error":
            return
        code, ws = frame.get("code"), self._ws
        if answer.last_seq < 0 and ws is not None:
            if code == "not_found" and answer._sendtext_on != self._generation:
                # The resume found nothing: the socket died before the relay took the request. Ask again.
                answer._sendtext_on = self._generation
                answer._resending = True
                self._background(self._send_sendtext(ws, answer))
                return
            if code == "bad_request" and frame.get("field") == "requestId" and answer._resending:
                # The first sendtext was taken after all (it was slower than our resume): resume it.
                answer._resending = False
                self._background(
                    self._send(ws, {"action": "resume", "requestId": answer.request_id, "after": answer.last_seq})
                )
                return
        if code == "not_found" and answer._cancel_requested:
            if answer.last_seq < 0:
                answer._finish_cancelled_locally()
            return  # a cancel of an answer that ended meanwhile
        answer._fail(RelayError.from_frame(frame))

    async def _control(self, message: dict[str, Any], reply_type: str) -> list[dict[str, Any]]:
        self._check_usable()
        assert self._call_lock is not None
        async with self._call_lock:
            future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
            call = _Call(message, reply_type, future, [])
            self._call = call
            try:
                await self._send_call(call)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), self.request_timeout)
                except asyncio.TimeoutError:
                    action = message["action"]
                    raise RequestTimeoutError(
                        ErrorCode.TIMEOUT.value, f"no reply to {action!r} within {self.request_timeout} s"
                    ) from None
            finally:
                self._call = None

    async def _send_call(self, call: _Call) -> None:
        ws = self._ws
        if ws is None or call.sent_on == self._generation or call.future.done():
            return
        call.sent_on = self._generation
        call.frames.clear()
        await self._send(ws, call.message)

    # -- receiving -----------------------------------------------------------------------------------------------

    def _on_frame(self, frame: dict[str, Any]) -> None:
        request_id = frame.get("requestId")
        if isinstance(request_id, str) and request_id in self._answers:
            self._answers[request_id]._receive(frame)
            return
        call, kind = self._call, frame.get("type")
        if call is None or call.future.done():
            log.debug("frame for nobody: %s", frame)
            return
        if kind == call.reply_type:
            call.frames.append(frame)
            if kind != "history" or frame.get("final", True):
                call.future.set_result(list(call.frames))
        elif kind == "error" and "seq" not in frame and request_id is None:
            call.future.set_exception(RelayError.from_frame(frame))

    def _forget(self, answer: Answer) -> None:
        if self._answers.get(answer.request_id) is answer:
            del self._answers[answer.request_id]

    # -- the connection --------------------------------------------------------------------------------------------

    async def _token_value(self) -> str | None:
        token = self._token
        if token is None or isinstance(token, str):
            value: Any = token
        else:
            value = token()
            if inspect.isawaitable(value):
                value = await value
        self.token_calls += 1
        return value

    async def _open(self) -> ClientConnection:
        token = await self._token_value()
        url = self.url
        if token:
            url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode({"token": token})
        options: dict[str, Any] = {
            "open_timeout": self.open_timeout,
            "compression": None,  # API Gateway negotiates no permessage-deflate
            "max_size": None,
        }
        options.update(self._connect_options)
        return await connect(url, **options)

    def _backoff(self, attempt: int) -> float:
        step = min(self.backoff_max, self.backoff_base * 2 ** max(0, attempt - 1))
        return step / 2 + random.random() * step / 2

    async def _supervise(self, opened: asyncio.Future[None]) -> None:
        try:
            await self._run(opened)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug here must not leave callers waiting forever
            log.exception("the relay client's connection loop failed")
            self._give_up(exc, 0, None, opened)

    async def _run(self, opened: asyncio.Future[None]) -> None:
        attempt = 0
        ever_opened = False
        while not self._closing:
            if attempt == 0 and not ever_opened:
                self._set_state(StateChange(ConnectionState.CONNECTING))
            try:
                ws = await self._open()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt += 1
                status = getattr(getattr(exc, "response", None), "status_code", None)
                fatal = isinstance(exc, InvalidStatus) and status in (401, 403) and isinstance(self._token, str)
                if fatal or attempt >= self.max_attempts:
                    self._give_up(exc, attempt, status, opened)
                    return
                delay = self._backoff(attempt)
                state = ConnectionState.RECONNECTING if ever_opened else ConnectionState.CONNECTING
                self._set_state(StateChange(state, attempt, delay, exc))
                await asyncio.sleep(delay)
                continue
            ever_opened = True
            self._generation += 1
            opened_at = asyncio.get_running_loop().time()
            await self._take_over(ws)
            if not opened.done():
                opened.set_result(None)
            code, frames = await self._read(ws)
            self._ws = None
            if self._closing:
                return
            if code == CLOSE_MESSAGE_TOO_BIG:
                self._blame_too_big()
            reason = ConnectionError(f"the connection closed (code {code})" if code else "the connection dropped")
            # A connection counts as good once the relay answered on it or it lasted a while; one closed before
            # either is a failed attempt, so accept-then-close (whatever the cause) ends in FAILED, not a loop.
            if frames or asyncio.get_running_loop().time() - opened_at >= self.stable_after:
                attempt = 0
            else:
                attempt += 1
                if attempt >= self.max_attempts:
                    self._give_up(reason, attempt, None, opened)
                    return
            delay = self._backoff(max(1, attempt))
            self._set_state(StateChange(ConnectionState.RECONNECTING, attempt, delay, reason))
            await asyncio.sleep(delay)

    async def _take_over(self, ws: ClientConnection) -> None:
        """A new connection: resume every answer in flight on it, ask the ones never sent, then open it to all."""
        generation = self._generation
        while True:
            pending = [answer for answer in self._answers.values() if answer._dispatched_on != generation]
            call = self._call if self._call and self._call.sent_on != generation else None
            if not pending and call is None:
                break
            self._ws = ws  # _dispatch sends on self._ws of this generation
            for answer in pending:
                await self._dispatch(answer)
            if call is not None:
                await self._send_call(call)
        self._ws = ws
        self._set_state(StateChange(ConnectionState.OPEN))

    async def _read(self, ws: ClientConnection) -> tuple[int | None, int]:
        """Read frames until the socket closes; returns the close code the server sent (None: none) and how many
        frames arrived."""
        frames = 0
        try:
            async for message in ws:
                frames += 1
                try:
                    frame = json.loads(message)
                except ValueError:
                    continue
                if isinstance(frame, dict):
                    self._on_frame(frame)
        except ConnectionClosed:
            pass
        received = ws.protocol.close_rcvd
        return (received.code if received is not None else None), frames

    def _blame_too_big(self) -> None:
        """The gateway closed the socket with 1009: the largest message of this connection that nothing answered
        yet was too big. It fails with MessageTooBigError and is never sent again."""
        generation = self._generation
        suspects = [
            answer
            for answer in self._answers.values()
            if answer._sendtext_on == generation and answer._acked_on != generation
        ]
        if suspects:
            culprit = max(suspects, key=lambda answer: answer._sent_bytes)
            culprit._fail(
                MessageTooBigError(
                    ErrorCode.MESSAGE_TOO_BIG.value,
                    f"the gateway closed the connection (1009, message too big) on this {culprit._sent_bytes}-byte "
                    "message; it was not sent again",
                    request_id=culprit.request_id,
                )
            )

    def _give_up(self, exc: BaseException, attempts: int, status: int | None, opened: asyncio.Future[None]) -> None:
        if status in (401, 403):
            error: RelayError = UnauthorizedError(
                ErrorCode.UNAUTHORIZED.value, f"the gateway refused the token (HTTP {status})"
            )
        else:
            error = ConnectionFailedError(
                ErrorCode.CONNECTION_FAILED.value,
                f"could not connect to {self.url.split('?')[0]} after {attempts} attempt(s): {exc}",
                retryable=True,
            )
        error.__cause__ = exc
        self._failure = error
        self._fail_everything(error)
        self._set_state(StateChange(ConnectionState.FAILED, attempts, 0.0, error))
        if not opened.done():
            opened.set_exception(error)

    def _background(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fail_everything(self, error: RelayError) -> None:
        for answer in list(self._answers.values()):
            answer._fail(_copy_error(error))
        if self._call is not None and not self._call.future.done():
            self._call.future.set_exception(_copy_error(error))

    def _set_state(self, change: StateChange) -> None:
        if change.state == self._state and change.state == ConnectionState.OPEN:
            return
        self._state = change.state
        for queue in self._state_queues:
            queue.put_nowait(change)
        if self._on_state is not None:
            try:
                result = self._on_state(change)
                if inspect.isawaitable(result):
                    self._background(result)
            except Exception:
                log.exception("on_state callback failed")


def _fields(turn: Turn) -> dict[str, Any]:
    return {name: getattr(turn, name) for name in Turn.__dataclass_fields__}


def _joined(previous: Turn, piece: Turn) -> Turn:
    """One turn from two entries of it: text and reasoning concatenated; tool calls, tool results and attachments
    (which may follow the text in entries of their own) in order."""
    reasoning = previous.reasoning if piece.reasoning is None else (previous.reasoning or "") + piece.reasoning
    return Turn(
        **{
            **_fields(previous),
            "text": previous.text + piece.text,
            "reasoning": reasoning,
            "tool_uses": previous.tool_uses + piece.tool_uses,
            "tool_results": previous.tool_results + piece.tool_results,
            "attachments": previous.attachments + piece.attachments,
        }
    )


def _copy_error(error: RelayError) -> RelayError:
    copy = type(error)(error.code, error.message, retryable=error.retryable, retry_after=error.retry_after)
    copy.__cause__ = error.__cause__
    return copy
