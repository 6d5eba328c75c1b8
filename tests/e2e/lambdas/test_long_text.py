"""Long texts sent as `sendtext` parts (issue 15), through localgw with the Python `websockets` client.

The simulator counts input tokens as whitespace-separated words and echoes the text it received, so an answer's
`usage.inputTokens` and the start of its text prove the model got the whole text, joined in order.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from lambdas import env_vars
from lambdas.protocol import MAX_FRAME_BYTES
from lambdas.store import keys
from tests.conftest import RECV_TIMEOUT
from tests.e2e.client import answer_text, collect, recv, simulator_records
from tests.fakes import assert_well_formed

FAST = "[[sim rate=inf ttft=0]]"
WORDS = ("日本語の文章", "🚀", "絵文字😀テスト", "漢字かな交じり", "한국어", "café", "Ελλάδα", "𝄞音楽", "中文句子。")
PART_CHARS = 7_000
"""Characters per part: at most 4 UTF-8 bytes each, so a part's frame stays under 32 KB."""


def long_text(marker: str, chars: int) -> str:
    """`chars` characters of mixed CJK, emoji and accented words, starting with `marker`."""
    rng = random.Random(marker)
    words = [marker]
    size = len(marker)
    while size < chars:
        words.append(rng.choice(WORDS))
        size += len(words[-1]) + 1
    text = " ".join(words)[:chars]
    return text[:-1] + "。" if text.endswith(" ") else text


def part_messages(text: str, request_id: str, part_chars: int = PART_CHARS, **fields: Any) -> list[str]:
    """The text as `sendtext` parts, each a JSON message (UTF-8, not \\u escapes) that fits one frame."""
    slices = [text[at : at + part_chars] for at in range(0, len(text), part_chars)]
    messages = [
        json.dumps(
            {"action": "sendtext", "requestId": request_id, "part": index, "parts": len(slices), "text": piece,
             **fields},
            ensure_ascii=False,
        )
        for index, piece in enumerate(slices)
    ]  # fmt: skip
    assert all(len(message.encode()) <= MAX_FRAME_BYTES for message in messages)
    return messages


def sendtext_invocations(relay_gateway) -> int:
    return relay_gateway.stats.invocations().get("sendtext", 0)


def wait_for_invocations(relay_gateway, count: int) -> None:
    deadline = time.monotonic() + RECV_TIMEOUT
    while sendtext_invocations(relay_gateway) < count:
        assert time.monotonic() < deadline, "the parts were not all handled"
        time.sleep(0.05)


def assert_nothing_more(ws) -> None:
    """After every sendtext invocation has returned, every frame it posted is already on the socket."""
    with pytest.raises(TimeoutError):
        ws.recv(timeout=0.5)


def test_a_200000_character_text_in_shuffled_concurrent_parts_gets_exactly_one_answer(connect, relay_gateway):
    marker = f"long-{uuid.uuid4().hex}"
    text = long_text(marker, 200_000 - len(FAST) - 1) + f" {FAST}"
    assert len(text) == 200_000
    words = text.replace(FAST, "").split()
    request_id = f"r{uuid.uuid4().hex[:12]}"
    messages = part_messages(text, request_id, maxTokens=10)
    assert len(messages) > 20
    random.Random(7).shuffle(messages)
    ws = connect()
    before = sendtext_invocations(relay_gateway)

    with ThreadPoolExecutor(8) as pool:  # several senders on one socket: the parts interleave freely
        list(pool.map(ws.send, messages))
    frames = collect(ws, timeout=30)

    assert_well_formed(frames, request_id)
    done = frames[-1]
    assert done["type"] == "done", done
    assert done["usage"]["inputTokens"] == len(words)
    assert answer_text(frames) == "Turn 1. You said: " + " ".join(words[:6])
    wait_for_invocations(relay_gateway, before + len(messages))
    assert_nothing_more(ws)
    asked = [r for r in simulator_records(relay_gateway.url) if (r["last_user_text"] or "").startswith(marker)]
    assert len(asked) == 1
    assert asked[0]["last_user_text"] == " ".join(words)


def test_a_resent_part_is_ignored_and_the_answer_still_comes_once(connect, relay_gateway):
    text = f"one two three four five six {FAST}"
    messages = part_messages(text, "resent-1", part_chars=10)
    ws = connect()
    before = sendtext_invocations(relay_gateway)
    for message in [messages[0], messages[0], *messages[1:], messages[1]]:
        ws.send(message)
    frames = collect(ws)
    assert frames[-1]["type"] == "done"
    assert frames[-1]["usage"]["inputTokens"] == 6
    wait_for_invocations(relay_gateway, before + len(messages) + 2)
    assert_nothing_more(ws)


def test_a_cancel_sent_while_the_parts_arrive_ends_the_answer_cancelled(connect, relay_gateway):
    # The stop button pressed while a long text is still going out in parts: the cancel comes before the answer
    # exists (as a cancel handled before its sendtext), and the answer, once its last part is in, ends cancelled
    # without the model being called.
    marker = f"parts-cancel-{uuid.uuid4().hex}"
    messages = part_messages(f"{marker} one two three four five six {FAST}", "parts-cancel-1", part_chars=20)
    ws = connect()
    ws.send(messages[0])
    ws.send(json.dumps({"action": "cancel", "requestId": "parts-cancel-1"}))
    time.sleep(0.3)
    for message in messages[1:]:
        ws.send(message)
    frames = collect(ws)
    assert [frame["type"] for frame in frames] == ["start", "done"]
    assert frames[-1]["stopReason"] == "cancelled"
    assert_well_formed(frames, "parts-cancel-1")
    assert not [record for record in simulator_records(relay_gateway.url) if marker in record["last_user_text"]]
    assert_nothing_more(ws)


def test_two_users_with_the_same_request_id_each_get_their_own_text(connect):
    alice, bob = connect(), connect()
    for ws, text in ((alice, f"alice says hello there {FAST}"), (bob, f"bob says something else {FAST}")):
        for message in part_messages(text, "shared-id", part_chars=12):
            ws.send(message)
    assert answer_text(collect(alice)).startswith("Turn 1. You said: alice says hello there")
    assert answer_text(collect(bob)).startswith("Turn 1. You said: bob says something else")


def _part(request_id: str, part: int, parts: int, text: str, **fields: Any) -> str:
    return json.dumps({"action": "sendtext", "requestId": request_id, "part": part, "parts": parts, "text": text,
                       **fields})  # fmt: skip


def _refusal(ws) -> dict[str, Any]:
    frame = recv(ws)
    assert frame["type"] == "error" and frame["code"] == "bad_request", frame
    assert "seq" not in frame
    return frame


CONFLICTS = {
    # name: (first part, conflicting part, field)
    "another-model": ({"model": "claude"}, {"model": "converse"}, "model"),
    "another-max-tokens": ({"maxTokens": 50}, {"maxTokens": 51}, "maxTokens"),
    "a-system-prompt-only-in-one": ({}, {"system": "be brief"}, "system"),
    "another-conversation": ({}, {"conversationId": "c-other"}, "conversationId"),
}


@pytest.mark.parametrize(("first", "second", "field"), CONFLICTS.values(), ids=CONFLICTS.keys())
def test_a_part_whose_other_fields_differ_is_refused_naming_the_field(connect, first, second, field):
    ws = connect()
    request_id = f"c{uuid.uuid4().hex[:10]}"
    ws.send(_part(request_id, 0, 2, "first half ", **first))
    ws.send(_part(request_id, 1, 2, "second half", **second))
    frame = _refusal(ws)
    assert frame["field"] == field
    assert frame["requestId"] == request_id


def test_a_part_with_another_part_count_is_refused(connect):
    ws = connect()
    ws.send(_part("count-1", 0, 3, "a "))
    ws.send(_part("count-1", 1, 2, "b "))
    assert _refusal(ws)["field"] == "parts"


def test_a_duplicate_index_with_other_text_is_refused(connect):
    ws = connect()
    ws.send(_part("dup-1", 0, 2, "the first text "))
    ws.send(_part("dup-1", 0, 2, "another first text "))
    frame = _refusal(ws)
    assert frame["field"] == "part"
    assert "already received" in frame["message"]


REFUSED_AT_ONCE = {
    "index-out-of-range": ({"requestId": "r1", "part": 3, "parts": 3}, "part"),
    "negative-index": ({"requestId": "r1", "part": -1, "parts": 3}, "part"),
    "too-many-parts": ({"requestId": "r1", "part": 0, "parts": 65}, "parts"),
    "part-without-parts": ({"requestId": "r1", "part": 0}, "parts"),
    "parts-without-part": ({"requestId": "r1", "parts": 2}, "part"),
    "parts-without-request-id": ({"part": 0, "parts": 2}, "requestId"),
}


@pytest.mark.parametrize(("fields", "field"), REFUSED_AT_ONCE.values(), ids=REFUSED_AT_ONCE.keys())
def test_a_malformed_part_is_refused_naming_the_field(connect, fields, field):
    ws = connect()
    ws.send(json.dumps({"action": "sendtext", "text": "x", **fields}))
    assert _refusal(ws)["field"] == field


def test_parts_longer_than_max_text_chars_together_are_refused(connect, relay_env):
    relay_env(**{env_vars.MAX_TEXT_CHARS: "30"})
    ws = connect()
    ws.send(_part("toolong-1", 0, 2, "a" * 20))
    ws.send(_part("toolong-1", 1, 2, "b" * 20))
    frame = _refusal(ws)
    assert frame["field"] == "text"
    assert "at most 30" in frame["message"]


def test_a_single_message_over_max_text_chars_is_refused_naming_text(connect, relay_env):
    # (The default, 200,000 characters, cannot even fit API Gateway's 128 KB message: lowered to show the refusal.)
    relay_env(**{env_vars.MAX_TEXT_CHARS: "1000"})
    ws = connect()
    ws.send(json.dumps({"action": "sendtext", "text": "x" * 1001}))
    frame = _refusal(ws)
    assert frame["field"] == "text" and "at most 1000" in frame["message"]
    ws.send(json.dumps({"action": "sendtext", "text": f"x {FAST}"}))
    assert collect(ws)[-1]["type"] == "done"


def test_a_part_after_the_upload_expired_is_refused_as_expired(connect, relay_gateway):
    user = f"expiring-{uuid.uuid4().hex[:8]}"
    ws = connect(user)
    ws.send(_part("late-1", 0, 2, "early part "))
    table = relay_gateway.gateway.dynamodb.client()
    name = relay_gateway.gateway.table_name
    header = keys.upload(user, "late-1")
    deadline = time.monotonic() + RECV_TIMEOUT
    while "Item" not in table.get_item(TableName=name, Key=header, ConsistentRead=True):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # Time passes: the upload's expiry is now behind us (DynamoDB's TTL would delete the items later still).
    table.update_item(
        TableName=name,
        Key=header,
        UpdateExpression="SET expiresAt = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    ws.send(_part("late-1", 1, 2, "late part"))
    frame = _refusal(ws)
    assert frame["field"] == "requestId"
    assert "expired" in frame["message"]


def test_a_single_frame_over_32_kb_still_closes_the_connection_with_1009(connect):
    ws = connect()
    ws.send(json.dumps({"action": "sendtext", "text": "語" * 12_000}, ensure_ascii=False))  # one 36 KB frame
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=RECV_TIMEOUT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_long_text_in_one_fragmented_message_is_accepted_up_to_max_text_chars(connect):
    # A client that can fragment (not a browser) may still send up to 128 KB in one message.
    ws = connect()
    message = json.dumps({"action": "sendtext", "text": "word " * 20_000 + FAST, "maxTokens": 5})
    ws.send([message[at : at + 30_000] for at in range(0, len(message), 30_000)])
    frames = collect(ws)
    assert frames[-1]["usage"]["inputTokens"] == 20_000
