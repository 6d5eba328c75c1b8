"""Conversations: an owner, numbered turns (user, assistant, user, ...), listed by owner newest first.

A turn's text is stored in parts of at most 300 KB (`TURN#{turn:05d}#{part:02d}`), so no item ever nears
DynamoDB's 400 KB limit however long an answer gets. A turn's protocol v2 content (tool calls, tool results,
reasoning with its signature) is one JSON document stored the same way, in the parts after the text's
(attribute `blocks` instead of `text`). Turn numbers are taken by the write that moves the
conversation's `turnCount` on only if nobody else did first; it goes in the admission's transaction with the
user's turn, so a conversation never holds a turn whose answer was refused.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from lambdas.attachments.history import from_reference
from lambdas.providers.base import Message
from lambdas.providers.content import ReasoningBlock, ToolCall, ToolResult
from lambdas.store import keys
from lambdas.store.errors import ForbiddenError, NotFoundError
from lambdas.store.items import from_item, split_utf8, to_item
from lambdas.store.table import ExpiringItems, Write
from lambdas.table_schema import (
    OWNER_INDEX,
    OWNER_INDEX_PARTITION_KEY,
    OWNER_INDEX_SORT_KEY,
    PARTITION_KEY,
    SORT_KEY,
    TTL_ATTRIBUTE,
)

TITLE_CHARS = 80
COMPLETE = "complete"
PARTIAL = "partial"


@dataclass(frozen=True, slots=True)
class Turn:
    turn: int
    role: str
    text: str
    request_id: str | None = None
    status: str = COMPLETE
    """`complete`, or `partial` for an answer cut short (error, cancel, time limit, lost connection)."""
    stop: str | None = None
    """The answer's stopReason, or its error code."""
    at: str | None = None
    tool_uses: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    reasoning: tuple[ReasoningBlock, ...] = ()
    attachments: tuple[dict[str, Any], ...] = ()
    """References to the images and documents sent with a user's turn (lambdas.attachments.history), not bytes."""

    def to_json(self) -> dict[str, Any]:
        data = {"turn": self.turn, "role": self.role, "text": self.text, "at": self.at}
        if self.role == "assistant":
            data.update({"requestId": self.request_id, "status": self.status, "stop": self.stop})
        if self.attachments:
            data["attachments"] = [dict(reference) for reference in self.attachments]
        return data

    def message(self) -> Message:
        return Message(
            "user" if self.role == "user" else "assistant",
            self.text,
            tool_uses=self.tool_uses,
            tool_results=self.tool_results,
            reasoning=self.reasoning,
            attachments=tuple(from_reference(reference) for reference in self.attachments),
        )

    @property
    def has_answer(self) -> bool:
        """An answer turn worth replaying: it has text or tool calls."""
        return bool(self.text or self.tool_uses)

    @property
    def size(self) -> int:
        """Characters this turn costs against the history budget, its v2 content included."""
        blocks = blocks_json(self)
        return len(self.text) + (len(blocks) if blocks else 0)


def blocks_json(turn: Turn) -> str | None:
    """A turn's v2 content as the JSON stored with it; None when it has none."""
    blocks: dict[str, Any] = {}
    if turn.tool_uses:
        blocks["toolUses"] = [call.to_json() for call in turn.tool_uses]
    if turn.tool_results:
        blocks["toolResults"] = [result.to_json() for result in turn.tool_results]
    if turn.reasoning:
        blocks["reasoning"] = [block.to_json() for block in turn.reasoning]
    if turn.attachments:
        blocks["attachments"] = [dict(reference) for reference in turn.attachments]
    return json.dumps(blocks, ensure_ascii=False, separators=(",", ":")) if blocks else None


def _with_blocks(turn: Turn, text: str) -> Turn:
    if not text:
        return turn
    blocks = json.loads(text)
    return replace(
        turn,
        tool_uses=tuple(ToolCall.from_json(item) for item in blocks.get("toolUses", ())),
        tool_results=tuple(ToolResult.from_json(item) for item in blocks.get("toolResults", ())),
        reasoning=tuple(ReasoningBlock.from_json(item) for item in blocks.get("reasoning", ())),
        attachments=tuple(blocks.get("attachments", ())),
    )


@dataclass(slots=True)
class Conversation:
    conversation_id: str
    owner: str
    title: str = ""
    created_at: str = ""
    updated_at: str = ""
    turn_count: int = 0
    turns: list[Turn] = field(default_factory=list)
    exists: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "conversationId": self.conversation_id,
            "title": self.title,
            "updatedAt": self.updated_at,
            "turns": self.turn_count,
        }


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def context(conversation: Conversation, budget_chars: int) -> tuple[Message, ...]:
    """Earlier turns for the model: whole user/assistant pairs, newest kept, oldest dropped past the budget.

    A user turn that got no answer text (it failed before any) is left out, so the roles always alternate. Tool
    calls, results and reasoning go with their turns and count against the budget.
    """
    answers = {turn.turn: turn for turn in conversation.turns if turn.role == "assistant" and turn.has_answer}
    pairs: list[tuple[Message, Message]] = []
    sizes: list[int] = []
    for turn in conversation.turns:
        answer = answers.get(turn.turn + 1)
        if turn.role == "user" and answer is not None:
            pairs.append((turn.message(), answer.message()))
            sizes.append(turn.size + answer.size)
    return newest_pairs(pairs, sizes, budget_chars)


def newest_pairs(pairs: list[tuple[Message, Message]], sizes: list[int], budget_chars: int) -> tuple[Message, ...]:
    """The newest whole user/assistant pairs whose `sizes` fit `budget_chars`, oldest dropped first: the history
    budget both channels apply (a stored conversation here, the history an HTTP client sends in
    `lambdas.openai_http`)."""
    kept: list[tuple[Message, Message]] = []
    used = 0
    for pair, size in zip(reversed(pairs), reversed(sizes), strict=True):
        if used + size > budget_chars:
            break
        kept.append(pair)
        used += size
    return tuple(message for pair in reversed(kept) for message in pair)


class Conversations(ExpiringItems):
    """The conversations of one table."""

    def load(self, conversation_id: str, owner: str) -> Conversation:
        """The conversation with its turns, in one query; NotFoundError / ForbiddenError."""
        items = self._table.query_all(
            doing="reading the conversation",
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": PARTITION_KEY},
            ExpressionAttributeValues={":pk": {"S": keys.conversation_partition(conversation_id)}},
            ConsistentRead=True,
        )
        meta = next((from_item(item) for item in items if keys.sk_of(item) == keys.META), None)
        if meta is None:
            raise NotFoundError(f"no conversation {conversation_id!r}")
        if meta["owner"] != owner:
            raise ForbiddenError(f"conversation {conversation_id!r} belongs to another user")
        return Conversation(
            conversation_id=conversation_id,
            owner=owner,
            title=meta.get("title", ""),
            created_at=meta.get("createdAt", ""),
            updated_at=meta.get("updatedAt", ""),
            turn_count=int(meta.get("turnCount", 0)),
            turns=_turns([from_item(item) for item in items if keys.sk_of(item).startswith(keys.TURN_PREFIX)]),
            exists=True,
        )

    def start(
        self,
        conversation: Conversation,
        user_text: str,
        tool_results: tuple[ToolResult, ...] = (),
        attachments: Sequence[dict[str, Any]] = (),
    ) -> tuple[int, list[Write]]:
        """The writes taking the next two turn numbers (the user's and the answer's) and storing the user's turn:
        the conversation's `meta` write is refused if another answer took the turn first (or the conversation is
        someone else's). Returns the answer's turn number with them; nothing is written here."""
        now = now_iso()
        ttl = self._ttl()
        user_turn = conversation.turn_count + 1
        position = keys.listing_position(now, conversation.conversation_id)
        if conversation.exists:
            meta = Write(
                "meta",
                "Update",
                {
                    "Key": keys.conversation(conversation.conversation_id),
                    "UpdateExpression": "SET turnCount = :next, updatedAt = :at, #gsk = :gsk, #ttl = :ttl",
                    "ConditionExpression": "turnCount = :current AND #owner = :owner",
                    "ExpressionAttributeNames": {
                        "#gsk": OWNER_INDEX_SORT_KEY,
                        "#ttl": TTL_ATTRIBUTE,
                        "#owner": "owner",
                    },
                    "ExpressionAttributeValues": to_item(
                        {
                            ":next": user_turn + 1,
                            ":current": conversation.turn_count,
                            ":at": now,
                            ":gsk": position,
                            ":ttl": ttl,
                            ":owner": conversation.owner,
                        }
                    ),
                },
            )
        else:
            item = {
                **keys.conversation(conversation.conversation_id),
                **to_item(
                    {
                        "conversationId": conversation.conversation_id,
                        "owner": conversation.owner,
                        "title": _title(user_text),
                        "createdAt": now,
                        "updatedAt": now,
                        "turnCount": user_turn + 1,
                        OWNER_INDEX_PARTITION_KEY: keys.owner_listing(conversation.owner),
                        OWNER_INDEX_SORT_KEY: position,
                        TTL_ATTRIBUTE: ttl,
                    }
                ),
            }
            meta = Write(
                "meta",
                "Put",
                {
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
                },
            )
        turn = Turn(user_turn, "user", user_text, at=now, tool_results=tool_results, attachments=tuple(attachments))
        return user_turn + 1, [meta, *self.turn_writes(conversation.conversation_id, turn)]

    def turn_writes(self, conversation_id: str, turn: Turn) -> list[Write]:
        """The writes storing one turn (whatever its status: a partial answer is history too), one per part."""
        values = {
            "turn": turn.turn,
            "role": turn.role,
            "requestId": turn.request_id,
            "status": turn.status,
            "stop": turn.stop,
            "at": turn.at or now_iso(),
            TTL_ATTRIBUTE: self._ttl(),
        }
        pieces = [("text", piece) for piece in split_utf8(turn.text)]
        blocks = blocks_json(turn)
        if blocks is not None:
            pieces += [("blocks", piece) for piece in split_utf8(blocks)]
        return [
            Write(
                f"turn-{turn.turn}-{index}",
                "Put",
                {"Item": {**keys.turn(conversation_id, turn.turn, index), **to_item({**values, name: piece})}},
            )
            for index, (name, piece) in enumerate(pieces)
        ]

    def list_for(self, owner: str, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the owner's conversations, most recently updated first, and the cursor of the next page."""
        query: dict[str, Any] = {
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "#gpk = :owner",
            "ExpressionAttributeNames": {"#gpk": OWNER_INDEX_PARTITION_KEY},
            "ExpressionAttributeValues": {":owner": {"S": keys.owner_listing(owner)}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = decode_cursor(cursor, owner)
        response = self._table.query_page(doing="listing conversations", **query)
        summaries = []
        for item in response["Items"]:
            values = from_item(item)
            summaries.append(
                Conversation(
                    conversation_id=values["conversationId"],
                    owner=owner,
                    title=values.get("title", ""),
                    updated_at=values.get("updatedAt", ""),
                    turn_count=int(values.get("turnCount", 0)),
                ).summary()
            )
        last = response.get("LastEvaluatedKey")
        return summaries, (encode_cursor(last) if last else None)

    def _ttl(self) -> int:
        return self._expires_at()


def _turns(parts: list[dict[str, Any]]) -> list[Turn]:
    by_turn: dict[int, list[dict[str, Any]]] = {}
    for part in sorted(parts, key=lambda part: part[SORT_KEY]):
        by_turn.setdefault(int(part["turn"]), []).append(part)
    turns = []
    for number, pieces in sorted(by_turn.items()):
        head = pieces[0]
        turn = Turn(
            turn=number,
            role=head["role"],
            text="".join(piece.get("text", "") for piece in pieces),
            request_id=head.get("requestId"),
            status=head.get("status", COMPLETE),
            stop=head.get("stop"),
            at=head.get("at"),
        )
        turns.append(_with_blocks(turn, "".join(piece.get("blocks", "") for piece in pieces)))
    return turns


def encode_cursor(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, owner: str) -> dict[str, Any]:
    """A cursor back into a key; refused unless it points into `owner`'s own listing."""
    try:
        last_key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        owner_key = last_key[OWNER_INDEX_PARTITION_KEY]["S"]
    except (ValueError, KeyError, TypeError) as exc:
        raise NotFoundError("invalid cursor") from exc
    if owner_key != keys.owner_listing(owner):
        raise ForbiddenError("cursor of another user's listing")
    return last_key


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"
