"""Admission: everything that can refuse a `sendtext` before the model is called, in two table round trips.

1. Reads, in parallel: one snapshot (TransactGetItems) of the caller's quota items (in-flight leases, today's
   output tokens) and of the answer's own record key, and, when the request continues a conversation, its query.
   (Not BatchGetItem: that is the control watcher's periodic read, which stays apart in the request counts.)
2. One transaction: the lease (only if the quota items are unchanged since the read), the conversation's turn
   count and the user's turn (only if no other answer took the turn), and the answer's record (only if the caller
   never used the requestId). Then the model can be called.

A refused write is told apart by name: a lease that changed under us is read again and retried; a record that
exists is either a requestId in use (refused) or a `cancel` that arrived before this `sendtext` (API Gateway does
not order the messages of a connection): then the answer is admitted as cancelled — its turn stored, its `start`
and `done` frames written in the same transaction, no model called. Whether the cancel is seen by the read or by
the transaction's condition, it wins; a cancel its handler withdrew first is no longer there to win.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import cache
from typing import Any

from lambdas import protocol
from lambdas.answer import parts
from lambdas.answer.tools import NO_TOOL_FIELDS, ToolFields, check_capabilities, check_tool_results, parse_tool_fields
from lambdas.attachments import history as attachment_history
from lambdas.attachments.formats import DOCUMENT, IMAGE
from lambdas.attachments.service import AttachmentError
from lambdas.attachments.service import shared as attachment_service
from lambdas.catalogue import CatalogueError, UnknownModelError, resolve_spec
from lambdas.config import Settings
from lambdas.identity import caller_id
from lambdas.observability import logger
from lambdas.protocol import ErrorCode, StopReason, error_frame
from lambdas.providers.attachments import accepted_formats
from lambdas.providers.base import Message, ModelRequest, Provider
from lambdas.providers.content import Attachment
from lambdas.providers.registry import resolve
from lambdas.providers.tools import paired
from lambdas.requests import BadRequestError, SendText, parse_body, parse_sendtext
from lambdas.store import Store, keys
from lambdas.store.answers import CANCEL_PENDING, AnswerRecord
from lambdas.store.conversations import PARTIAL, Conversation, Turn, context
from lambdas.store.errors import ConflictError, ForbiddenError, NotFoundError, QuotaExceededError, StoreError
from lambdas.store.quotas import CONTENDED_RETRY_AFTER_S, INFLIGHT, MAX_ACQUIRE_ATTEMPTS
from lambdas.store.table import Items, Write

TRY_AGAIN = "The relay could not start this answer; try again shortly."
CONFLICT = "That requestId is already in use, or another answer in this conversation is in flight."
LEASE_MARGIN_S = 60
"""A lease outlives the function's remaining time by this much: the answer surely ended by then."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A request that passed validation, the model allow-list and the caller's quotas, with its turn taken and its
    record created: the model may be called."""

    request: SendText
    request_id: str
    alias: str
    provider: Provider
    user: str
    max_tokens: int
    conversation_id: str
    answer_turn: int
    history: tuple[Message, ...]
    tool_fields: ToolFields = NO_TOOL_FIELDS
    """Protocol v2: tools, tool choice, tool results and reasoning, validated."""
    attachments: tuple[Attachment, ...] = ()
    """The images and documents sent with the text, read and checked (lambdas.attachments)."""

    @property
    def answer(self) -> tuple[str, str]:
        return self.user, self.request_id

    def model_request(self) -> ModelRequest:
        fields = self.tool_fields
        current = Message(
            "user", self.request.text or "", tool_results=fields.tool_results, attachments=self.attachments
        )
        return ModelRequest(
            messages=paired((*self.history, current)),
            max_tokens=self.max_tokens,
            system=self.request.system,
            temperature=self.request.temperature,
            tools=fields.tools,
            tool_choice=fields.tool_choice,
            reasoning_budget=fields.reasoning_budget,
        )


@dataclass(frozen=True, slots=True)
class CancelledBeforeStart:
    """A request whose `cancel` came first: its frames (`start`, `done` cancelled) are stored; send them."""

    request_id: str
    frames: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class PartStored:
    """One part of a text sent in parts, stored; another part completes the text and starts the answer."""

    request_id: str


class Rejected(Exception):
    """The request is refused before anything was streamed; `frame` tells the client why."""

    def __init__(self, frame: dict[str, Any]) -> None:
        super().__init__(frame["message"])
        self.frame = frame


class Admission:
    """Admits `sendtext` requests against one store; reads run in parallel on `pool`."""

    def __init__(self, store: Store, pool: Executor, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._pool = pool
        self._monotonic = monotonic

    def admit(
        self, event: dict[str, Any], config: Settings, remaining_s: float, started_at: float
    ) -> Accepted | CancelledBeforeStart | PartStored:
        """Admit the request in `event`, or raise Rejected with the frame that says why."""
        try:
            request = parse_sendtext(parse_body(event.get("body")))
            fields = parse_tool_fields(request)
        except BadRequestError as exc:
            frame = error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=exc.request_id, field=exc.field)
            raise Rejected(frame) from None
        try:
            if request.parts is not None:
                whole = self._whole_text(request, event, config)
                if whole is None:
                    return PartStored(request.requestId or "")
                request = whole
            return self._admit(request, fields, event, config, remaining_s, started_at)
        except Rejected:
            raise
        except Exception:
            # Never leave a client waiting in silence: whatever failed, say so (and let it retry).
            logger.exception("the request could not be admitted")
            raise _refusal(request, ErrorCode.INTERNAL, TRY_AGAIN, retryable=True) from None

    def _whole_text(self, request: SendText, event: dict[str, Any], config: Settings) -> SendText | None:
        """One part of a text sent in parts: the whole request once this part completes it (lambdas.answer.parts)."""
        try:
            return parts.collect(request, caller_id(event), self._store.uploads, config)
        except BadRequestError as exc:
            frame = error_frame(ErrorCode.BAD_REQUEST, str(exc), request_id=exc.request_id, field=exc.field)
            raise Rejected(frame) from None

    def _admit(
        self,
        request: SendText,
        fields: ToolFields,
        event: dict[str, Any],
        config: Settings,
        remaining_s: float,
        started_at: float,
    ) -> Accepted | CancelledBeforeStart:
        try:
            alias, provider = resolve(request.model)
            if fields.asked:
                check_capabilities(fields, resolve_spec(alias), request.requestId)
        except UnknownModelError as exc:
            raise _refusal(request, ErrorCode.BAD_REQUEST, str(exc), field="model") from None
        except BadRequestError as exc:
            raise _refusal(request, ErrorCode.BAD_REQUEST, str(exc), field=exc.field) from None
        except CatalogueError:
            logger.exception("the model catalogue is invalid")
            raise _refusal(request, ErrorCode.INTERNAL, "The relay's model configuration is invalid.") from None

        user = caller_id(event)
        request_id = request.requestId or protocol.new_request_id()
        store = self._store
        accepted = _accepted_formats(alias)
        attachments = self._attachments(request, user, accepted)

        # Round 1: the reads, in parallel.
        loading: Future[Conversation] | None = None
        if request.conversationId:
            loading = self._pool.submit(store.conversations.load, request.conversationId, user)
        now = store.quotas.now()
        wanted = [*store.quotas.keys(user, now), keys.answer(user, request_id)]
        read_failure: StoreError | None = None
        try:
            items = store.read(wanted, "reading the quotas and the answer's record")
        except StoreError as exc:
            read_failure, items = exc, {}
        conversation = self._conversation(loading, request, user)
        try:
            check_tool_results(fields, conversation, request.requestId)
        except BadRequestError as exc:
            raise _refusal(request, ErrorCode.BAD_REQUEST, str(exc), field=exc.field) from None
        if read_failure is not None:
            logger.error("could not read the quotas and the answer's record", exc_info=read_failure)
            raise _refusal(request, ErrorCode.INTERNAL, TRY_AGAIN, retryable=True)
        history = context(conversation, config.history_max_chars)
        history = self._earlier_attachments(history, user, attachments, accepted)
        return self._write(
            request,
            fields,
            event,
            config,
            remaining_s,
            started_at,
            alias,
            provider,
            user,
            request_id,
            conversation,
            history,
            items,
            now,
            attachments,
        )

    def _attachments(
        self, request: SendText, user: str, accepted: Callable[[str], frozenset[str]]
    ) -> tuple[Attachment, ...]:
        """The request's attachments, owner-, size- and type-checked; refused when the model takes none of them."""
        if not request.attachments:
            return ()
        if not (accepted(IMAGE) or accepted(DOCUMENT)):
            message = "attachments: this model takes no attachments (see the `models` frame's `attachments`)"
            raise _refusal(request, ErrorCode.BAD_REQUEST, message, field="attachments")
        try:
            return attachment_service().load(user, request.attachments, accepted, self._pool)
        except AttachmentError as exc:
            extra = {"field": exc.field} if exc.field else {}
            raise _refusal(request, ErrorCode(exc.code), str(exc), **extra) from None

    def _earlier_attachments(
        self,
        history: tuple[Message, ...],
        user: str,
        current: tuple[Attachment, ...],
        accepted: Callable[[str], frozenset[str]],
    ) -> tuple[Message, ...]:
        """Earlier turns' attachments, read again while their objects live; never a reason to refuse."""
        earlier = attachment_history.referenced(history)
        if not earlier:
            return history
        loaded: dict[str, Attachment] = {}
        if accepted(IMAGE) or accepted(DOCUMENT):
            try:
                loaded = attachment_service().reload(user, earlier, self._pool)
            except Exception:
                logger.exception("could not read an earlier turn's attachments; the model goes without them")
        return attachment_history.resolved(history, loaded, current, accepted)

    def _write(
        self,
        request: SendText,
        fields: ToolFields,
        event: dict[str, Any],
        config: Settings,
        remaining_s: float,
        started_at: float,
        alias: str,
        provider: Provider,
        user: str,
        request_id: str,
        conversation: Conversation,
        history: tuple[Message, ...],
        items: Items,
        now: float,
        attachments: tuple[Attachment, ...] = (),
    ) -> Accepted | CancelledBeforeStart:
        """Round 2: one transaction (again only when a concurrent change refused it)."""
        store = self._store
        answer_key = keys.identity(keys.answer(user, request_id))
        for attempt in range(MAX_ACQUIRE_ATTEMPTS):
            record = items.get(answer_key)
            cancelled = record is not None and AnswerRecord.from_item(record).status == CANCEL_PENDING
            if record is not None and not cancelled:
                raise _refusal(request, ErrorCode.BAD_REQUEST, CONFLICT, field="requestId")
            references = [attachment_history.reference(attachment) for attachment in attachments]
            answer_turn, writes = store.conversations.start(
                conversation, request.text or "", fields.tool_results, references
            )
            outcome: Accepted | CancelledBeforeStart
            if cancelled:
                outcome, more = self._cancelled(user, request_id, alias, conversation, answer_turn, started_at)
            else:
                max_tokens, more = self._quota(request, items, user, now, request_id, config, remaining_s)
                connection_id = event["requestContext"]["connectionId"]
                more.append(
                    store.answers.create(user, request_id, connection_id, conversation.conversation_id, remaining_s)
                )
                outcome = Accepted(
                    request,
                    request_id,
                    alias,
                    provider,
                    user,
                    max_tokens,
                    conversation.conversation_id,
                    answer_turn,
                    history,
                    fields,
                    attachments,
                )
            try:
                store.transact([*more, *writes])
            except ConflictError as exc:
                if "meta" in exc.refused:
                    raise _refusal(request, ErrorCode.BAD_REQUEST, CONFLICT, field="requestId") from None
                if "answer" in exc.refused:  # the record as it is now decides the next round
                    old = exc.refused["answer"]
                    items = {key: item for key, item in items.items() if key != answer_key}
                    if old is not None:
                        items[answer_key] = old
                if "lease" in exc.refused:  # another admission or release of this user won: read again
                    time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                    now = store.quotas.now()
                    wanted = [*store.quotas.keys(user, now), keys.answer(user, request_id)]
                    try:
                        items = store.read(wanted, "reading the quotas and the answer's record again")
                    except StoreError:
                        logger.exception("could not read the quotas again")
                        raise _refusal(request, ErrorCode.INTERNAL, TRY_AGAIN, retryable=True) from None
                continue
            except StoreError:
                logger.exception("could not start the turn")
                message = "The relay could not store the conversation; try again."
                raise _refusal(request, ErrorCode.INTERNAL, message, retryable=True) from None
            return outcome
        retry_after = CONTENDED_RETRY_AFTER_S
        message = f"Quota reached ({INFLIGHT}: {store.quotas.limits.inflight}); retry in {retry_after} s."
        raise _refusal(request, ErrorCode.RATE_LIMITED, message, retryAfter=retry_after)

    def _conversation(self, loading: Future[Conversation] | None, request: SendText, user: str) -> Conversation:
        if loading is None:
            return Conversation(protocol.new_request_id(), user)
        try:
            return loading.result()
        except NotFoundError:
            raise _refusal(request, ErrorCode.NOT_FOUND, "No such conversation.", field="conversationId") from None
        except ForbiddenError:
            raise _refusal(request, ErrorCode.FORBIDDEN, "That conversation belongs to another user.") from None
        except StoreError:
            logger.exception("could not read the conversation")
            raise _refusal(request, ErrorCode.INTERNAL, TRY_AGAIN, retryable=True) from None

    def _quota(
        self,
        request: SendText,
        items: Items,
        user: str,
        now: float,
        request_id: str,
        config: Settings,
        remaining_s: float,
    ) -> tuple[int, list[Write]]:
        """maxTokens capped by the tokens left today, and the lease write; refused when a quota is spent."""
        max_tokens = request.maxTokens or config.max_tokens_default
        quotas = self._store.quotas
        snapshot = quotas.snapshot(user, now, items)
        try:
            tokens_left = quotas.tokens_left(snapshot)
            lease = quotas.lease(snapshot, request_id, remaining_s + LEASE_MARGIN_S)
        except QuotaExceededError as exc:
            message = f"Quota reached ({exc.quota}: {exc.limit}); retry in {exc.retry_after_s} s."
            raise _refusal(request, ErrorCode.RATE_LIMITED, message, retryAfter=exc.retry_after_s) from None
        if tokens_left is not None:
            max_tokens = max(1, min(max_tokens, tokens_left))
        return max_tokens, [] if lease is None else [lease]

    def _cancelled(
        self,
        user: str,
        request_id: str,
        alias: str,
        conversation: Conversation,
        answer_turn: int,
        started_at: float,
    ) -> tuple[CancelledBeforeStart, list[Write]]:
        """The answer of a request cancelled before it started: its frames, its (empty, partial) turn, and the
        write that ends its record in place of the pending cancel."""
        total_ms = round((self._monotonic() - started_at) * 1000)
        frames = [
            {**protocol.start_frame(request_id, alias), "conversationId": conversation.conversation_id},
            protocol.done_frame(request_id, 1, StopReason.CANCELLED, 0, 0, None, total_ms),
        ]
        turn = Turn(answer_turn, "assistant", "", request_id=request_id, status=PARTIAL, stop=StopReason.CANCELLED)
        writes = [
            *self._store.conversations.turn_writes(conversation.conversation_id, turn),
            self._store.answers.end_cancelled(user, request_id, conversation.conversation_id, frames),
        ]
        return CancelledBeforeStart(request_id, frames), writes


def _accepted_formats(alias: str) -> Callable[[str], frozenset[str]]:
    """The formats of each kind of attachment the model behind `alias` takes (looked up only when asked: a request
    without attachments never needs it)."""

    @cache
    def accepted(kind: str) -> frozenset[str]:
        return accepted_formats(resolve_spec(alias), kind)

    return accepted


def _refusal(request: SendText, code: ErrorCode, message: str, **extra: Any) -> Rejected:
    """A refusal that carries the client's requestId (when it sent one), whatever the reason."""
    return Rejected(error_frame(code, message, request_id=request.requestId, **extra))
