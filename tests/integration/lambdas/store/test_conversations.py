"""Conversation storage against moto's DynamoDB: item sizes, turn numbering, the history budget."""

from __future__ import annotations

import pytest

from lambdas.config import settings
from lambdas.providers.base import Message
from lambdas.store import Store, conversations
from lambdas.store.answers import ENDED
from lambdas.store.conversations import Conversation, Turn
from lambdas.store.errors import ConflictError, ForbiddenError, NotFoundError
from lambdas.store.table import Table


def start(store: Store, conversation: Conversation, text: str, request_id: str) -> int:
    """What admission writes for a turn: the turn numbers, the user's turn and the answer's record, all or none."""
    answer_turn, writes = store.conversations.start(conversation, text)
    record = store.answers.create(conversation.owner, request_id, "conn", conversation.conversation_id, 60)
    store.transact([*writes, record])
    conversation.turn_count = answer_turn
    conversation.exists = True
    return answer_turn


def test_an_answer_far_over_the_item_limit_is_stored_in_parts_and_read_back_whole(store, table):
    conversation = Conversation("c1", "ann")
    answer_turn = start(store, conversation, "tell me everything", "r1")
    huge = "日本語のテキスト " * 60_000  # ~1.4 MB of UTF-8
    store.transact(store.conversations.turn_writes("c1", Turn(answer_turn, "assistant", huge, request_id="r1")))

    items = Table(table, settings().table_name).query_all(
        doing="test",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "CONV#c1"}},
    )
    assert max(len(str(item).encode()) for item in items) < 400_000
    assert sum(item["sk"]["S"].startswith(f"TURN#{answer_turn:05d}") for item in items) >= 4
    loaded = store.conversations.load("c1", "ann")
    assert [turn.text for turn in loaded.turns] == ["tell me everything", huge]


def test_turns_are_numbered_in_order_and_a_stale_turn_count_conflicts(store):
    conversation = Conversation("c2", "ann")
    assert start(store, conversation, "one", "r1") == 2
    assert start(store, conversation, "two", "r2") == 4
    stale = Conversation("c2", "ann", turn_count=2, exists=True)
    with pytest.raises(ConflictError) as refused:
        start(store, stale, "racing", "r3")
    assert set(refused.value.refused) == {"meta"}


def test_a_request_id_is_taken_once(store):
    start(store, Conversation("c3", "ann"), "one", "same")
    with pytest.raises(ConflictError) as refused:
        start(store, Conversation("c4", "ann"), "two", "same")
    assert set(refused.value.refused) == {"answer"}
    assert refused.value.refused["answer"]["status"] == {"S": "streaming"}  # the record as it is
    with pytest.raises(NotFoundError):  # all or none: the refused answer's conversation was not created
        store.conversations.load("c4", "ann")


def test_loading_checks_the_owner(store):
    start(store, Conversation("c5", "ann"), "mine", "r5")
    with pytest.raises(ForbiddenError):
        store.conversations.load("c5", "bob")
    with pytest.raises(NotFoundError):
        store.conversations.load("nope", "ann")


def turns(*texts: str) -> Conversation:
    roles = ["user", "assistant"] * len(texts)
    return Conversation("c", "ann", turns=[Turn(i + 1, roles[i], text) for i, text in enumerate(texts)], exists=True)


def test_the_history_budget_drops_the_oldest_whole_turns():
    conversation = turns("a" * 10, "b" * 10, "c" * 10, "d" * 10, "e" * 10, "f" * 10)
    assert conversations.context(conversation, budget_chars=45) == (
        Message("user", "c" * 10),
        Message("assistant", "d" * 10),
        Message("user", "e" * 10),
        Message("assistant", "f" * 10),
    )
    assert conversations.context(conversation, budget_chars=10) == ()


def test_a_question_without_an_answer_is_left_out_so_roles_alternate():
    conversation = turns("q1", "", "q2", "a2")
    assert conversations.context(conversation, budget_chars=1000) == (
        Message("user", "q2"),
        Message("assistant", "a2"),
    )


def test_an_ended_answers_frames_are_stored_in_parts_and_replayed_in_order(store):
    conversation = Conversation("c6", "ann")
    start(store, conversation, "long", "r6")
    frames = [{"type": "start", "requestId": "r6", "seq": 0, "model": "m"}]
    frames += [{"type": "delta", "requestId": "r6", "seq": i, "text": "x" * 30_000} for i in range(1, 40)]
    frames.append({"type": "done", "requestId": "r6", "seq": 40, "stopReason": "end_turn"})
    store.answers.end("ann", "r6", frames)
    record = store.answers.get("ann", "r6")
    assert record is not None and record.status == ENDED and record.transcript_parts >= 4
    assert store.answers.transcript(record) == frames
