"""Protocol v2 content in conversations against moto's DynamoDB: tool calls, results and signed reasoning stored
with their turns (within the 400 KB item limit however large), read back whole, and replayed within the budget."""

from __future__ import annotations

from lambdas.config import settings
from lambdas.providers.content import ReasoningBlock, ToolCall, ToolResult
from lambdas.store.conversations import Conversation, Turn, context
from lambdas.store.table import Table
from tests.integration.lambdas.store.test_conversations import start

CALL = ToolCall("toolu_1", "calc", {"e": "2*(3+4)", "nested": [1, {"x": None}]})


def test_calls_results_and_reasoning_far_over_the_item_limit_are_stored_in_parts_and_read_back(store, table):
    conversation = Conversation("v2-1", "ann")
    answer_turn = start(store, conversation, "compute", "r1")
    reasoning = (ReasoningBlock("考える " * 120_000, "sig-1"), ReasoningBlock(redacted="b3BhcXVl"))  # ~1.2 MB
    answer = Turn(answer_turn, "assistant", "Calling.", request_id="r1", stop="tool_use", tool_uses=(CALL,),
                  reasoning=reasoning)  # fmt: skip
    store.transact(store.conversations.turn_writes("v2-1", answer))
    conversation.turn_count = answer_turn
    results = (ToolResult("toolu_1", {"value": 14}, "success"),)
    next_turn, writes = store.conversations.start(conversation, "", results)
    store.transact(writes)

    items = Table(table, settings().table_name).query_all(
        doing="test",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "CONV#v2-1"}},
    )
    assert max(len(str(item).encode()) for item in items) < 400_000
    loaded = store.conversations.load("v2-1", "ann")
    stored = loaded.turns[1]
    assert (stored.text, stored.tool_uses, stored.reasoning, stored.stop) == (
        "Calling.",
        (CALL,),
        reasoning,
        "tool_use",
    )
    assert loaded.turns[2].tool_results == results
    assert loaded.turns[2].text == ""
    assert next_turn == answer_turn + 2


def test_the_history_budget_counts_tool_content_and_keeps_a_tool_turn_whole():
    conversation = Conversation("v2-2", "ann", exists=True)
    conversation.turns = [
        Turn(1, "user", "old question"),
        Turn(2, "assistant", "old answer"),
        Turn(3, "user", "compute"),
        Turn(4, "assistant", "", stop="tool_use", tool_uses=(CALL,)),
    ]
    tool_pair = len("compute") + conversation.turns[3].size
    assert conversation.turns[3].size > len('"calc"') + len(CALL.tool_use_id), "the call's JSON counts"
    replayed = context(conversation, tool_pair + len("old question") + len("old answer"))
    assert [message.role for message in replayed] == ["user", "assistant", "user", "assistant"]
    assert replayed[3].tool_uses == (CALL,)
    # A smaller budget drops the older pair, then the tool pair itself: never half of it.
    assert [message.tool_uses for message in context(conversation, tool_pair)] == [(), (CALL,)]
    assert context(conversation, tool_pair - 1) == ()
