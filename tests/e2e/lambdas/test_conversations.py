"""Conversations, cancel and resume end to end: what a chat client with a stop button and a flaky network sees."""

from __future__ import annotations

import json
import random
import time

import pytest

from lambdas.handlers.cancel import EARLY_CANCEL_WAIT_S
from localgw.simulator import SimConversation, plan_reply
from tests.e2e.client import answer_text, ask, collect, expected_reply, recv, send, simulator_records
from tests.e2e.lambdas.test_lifecycle import wait_for_record
from tests.fakes import assert_well_formed

FAST = "[[sim rate=5000 ttft=0]]"
SLOW = "[[sim tokens=600 rate=150 ttft=0]]"


def test_a_conversation_carries_its_history_to_the_model(connect):
    ws = connect()
    first = ask(ws, f"My name is Ada {FAST}")
    conversation_id = first[0]["conversationId"]
    second = ask(ws, f"What is my name {FAST}", conversationId=conversation_id)

    assert second[0]["conversationId"] == conversation_id
    expected = plan_reply(
        SimConversation.of(
            ("user", f"My name is Ada {FAST}"), ("assistant", answer_text(first)), ("user", f"What is my name {FAST}")
        )
    )
    assert answer_text(second).startswith("Turn 2. You said: What is my name")
    assert answer_text(second) == expected.text
    assert second[-1]["usage"]["inputTokens"] == expected.input_tokens

    send(ws, {"action": "history", "conversationId": conversation_id})
    history = recv(ws)
    assert history["type"] == "history" and history["final"] is True
    assert [(turn["turn"], turn["role"]) for turn in history["turns"]] == [
        (1, "user"),
        (2, "assistant"),
        (3, "user"),
        (4, "assistant"),
    ]
    assert history["turns"][1]["text"] == answer_text(first)
    assert history["turns"][3]["status"] == "complete"


def test_conversations_are_listed_newest_first_and_paged(connect):
    ws = connect()
    ids = [ask(ws, f"topic {index} {FAST}")[0]["conversationId"] for index in range(3)]
    send(ws, {"action": "conversations", "limit": 2})
    page = recv(ws)
    assert [item["conversationId"] for item in page["conversations"]] == [ids[2], ids[1]]
    assert page["conversations"][0]["title"].startswith("topic 2")
    send(ws, {"action": "conversations", "limit": 2, "cursor": page["next"]})
    rest = recv(ws)
    assert [item["conversationId"] for item in rest["conversations"]] == [ids[0]]


def test_cancel_stops_the_answer_quickly_and_closes_the_model(connect, relay_gateway):
    ws = connect()
    text = f"cancel-me {SLOW}"
    send(ws, {"action": "sendtext", "text": text, "requestId": "stop-1"})
    assert recv(ws)["type"] == "start"
    assert recv(ws)["type"] == "delta"
    sent_at = time.monotonic()
    send(ws, {"action": "cancel", "requestId": "stop-1"})
    frames = collect(ws)
    latency = time.monotonic() - sent_at

    assert frames[-1]["type"] == "done"
    assert frames[-1]["stopReason"] == "cancelled"
    assert latency < 2.0  # the streaming function checks for cancel every ~250 ms
    record = wait_for_record(relay_gateway.url, "cancel-me", lambda r: r["outcome"] != "running")
    assert record["outcome"] == "client_closed"
    assert record["chunks_sent"] < record["chunks_planned"]


def test_a_cancelled_answer_is_kept_in_history_as_partial(connect):
    ws = connect()
    send(ws, {"action": "sendtext", "text": f"partial-story {SLOW}", "requestId": "stop-2"})
    start, first_delta = recv(ws), recv(ws)
    send(ws, {"action": "cancel", "requestId": "stop-2"})
    delivered = answer_text([start, first_delta, *collect(ws)])
    send(ws, {"action": "history", "conversationId": start["conversationId"]})
    answer = recv(ws)["turns"][1]
    assert (answer["status"], answer["stop"], answer["text"]) == ("partial", "cancelled", delivered)


def drop_and_resume(connect, user: str, text: str, drop_after: int, *, pause_s: float = 0.0) -> list[dict]:
    """Receive `drop_after` frames, lose the connection, reconnect, resume: all the frames the client ends with."""
    ws = connect(user)
    send(ws, {"action": "sendtext", "text": text})
    received = [recv(ws) for _ in range(drop_after)]
    ws.close()
    time.sleep(pause_s)
    again = connect(user)
    send(again, {"action": "resume", "requestId": received[0]["requestId"], "after": received[-1]["seq"]})
    return received + collect(again)


@pytest.mark.parametrize("seed", range(4))
def test_resume_while_streaming_ends_with_exactly_the_uninterrupted_answer(connect, seed):
    text = f"resume-live-{seed} [[sim tokens=300 rate=400 ttft=0]]"
    drop_after = random.Random(seed).randint(1, 12)
    frames = drop_and_resume(connect, f"resumer-{seed}", text, drop_after)
    assert answer_text(frames) == expected_reply(text).text
    assert frames[-1]["type"] == "done"
    assert_well_formed(frames, frames[0]["requestId"])


def test_resume_after_the_answer_ended_replays_it_from_storage(connect, relay_gateway):
    text = f"resume-later {FAST}"
    frames = drop_and_resume(connect, "late-resumer", text, 1, pause_s=0.0)
    assert answer_text(frames) == expected_reply(text).text
    assert_well_formed(frames, frames[0]["requestId"])
    # and again, long after: the whole answer from seq 0
    ws = connect("late-resumer")
    send(ws, {"action": "resume", "requestId": frames[0]["requestId"], "after": -1})
    replay = collect(ws)
    assert replay == frames


def test_past_the_grace_period_a_resume_gets_the_partial_answer_and_connection_lost(connect, relay_env):
    relay_env(RELAY_GONE_GRACE_SECONDS="0.3")
    text = "too-late [[sim tokens=2000 rate=200 ttft=0]]"
    frames = drop_and_resume(connect, "slow-returner", text, 2, pause_s=1.5)
    assert frames[-1]["type"] == "error"
    assert (frames[-1]["code"], frames[-1]["retryable"]) == ("connection_lost", True)
    assert expected_reply(text).text.startswith(answer_text(frames))
    assert_well_formed(frames, frames[0]["requestId"])


def test_another_users_conversation_is_forbidden(connect):
    owner = connect("owner-user")
    first = ask(owner, f"private {FAST}", requestId="private-1")
    intruder = connect("intruder-user")
    for message in (
        {"action": "history", "conversationId": first[0]["conversationId"]},
        {"action": "sendtext", "text": "hijack", "conversationId": first[0]["conversationId"]},
    ):
        send(intruder, message)
        refusal = recv(intruder)
        assert (refusal["type"], refusal["code"]) == ("error", "forbidden"), message


def test_request_ids_are_scoped_to_their_user(connect):
    """Issue 13.7: another user's requestId is answered exactly like one that never existed, and is free for
    anyone else to use."""
    owner = connect("scoped-owner")
    first = ask(owner, f"mine {FAST}", requestId="scoped-1")
    assert first[-1]["type"] == "done"
    intruder = connect("scoped-intruder")
    refusals = {}
    for message in (
        {"action": "resume", "requestId": "scoped-1", "after": -1},
        {"action": "cancel", "requestId": "scoped-1"},
    ):
        send(intruder, message)
        refusal = recv(intruder)
        refusals[message["action"]] = refusal
        assert (refusal["type"], refusal["code"]) == ("error", "not_found"), message
    send(intruder, {"action": "resume", "requestId": "never-was-anyones", "after": -1})
    missing = recv(intruder)
    assert json.dumps(missing).replace("never-was-anyones", "X") == json.dumps(refusals["resume"]).replace(
        "scoped-1", "X"
    )
    # The same requestId is the intruder's own to use, and the owner's answer stays whole.
    theirs = ask(intruder, f"also mine {FAST}", requestId="scoped-1")
    assert theirs[-1]["type"] == "done"
    send(owner, {"action": "resume", "requestId": "scoped-1", "after": -1})
    assert collect(owner) == first


def test_unknown_request_and_conversation_ids_are_not_found(connect):
    ws = connect()
    for message in (
        {"action": "resume", "requestId": "never-was", "after": 0},
        {"action": "cancel", "requestId": "never-was"},
        {"action": "history", "conversationId": "never-was"},
        {"action": "sendtext", "text": "x", "conversationId": "never-was"},
    ):
        send(ws, message)
        refusal = recv(ws)
        assert (refusal["type"], refusal["code"]) == ("error", "not_found"), message


def test_a_request_id_cannot_be_reused(connect):
    ws = connect()
    ask(ws, f"once {FAST}", requestId="only-once")
    refusal = ask(ws, f"twice {FAST}", requestId="only-once")
    assert (refusal[-1]["code"], refusal[-1]["field"]) == ("bad_request", "requestId")


def test_a_cancel_handled_before_its_sendtext_still_wins(connect, relay_gateway):
    """Issue 13.2: API Gateway does not order a connection's messages, so a cancel sent right after its sendtext
    can be handled first. Sent in that order here: the answer still ends cancelled, and the model is never called."""
    ws = connect()
    send(ws, {"action": "cancel", "requestId": "early-1"})
    send(ws, {"action": "sendtext", "text": f"early-cancel {SLOW}", "requestId": "early-1"})
    frames = collect(ws)

    assert frames[0]["type"] == "start"  # not a not_found for the cancel
    assert frames[-1]["stopReason"] == "cancelled"
    assert_well_formed(frames, "early-1")
    # The cancel itself gets no frame, as for any cancel that stopped an answer: no not_found follows.
    with pytest.raises(TimeoutError):
        recv(ws, timeout=EARLY_CANCEL_WAIT_S + 1)
    # localgw invokes the two handlers concurrently, as API Gateway does: almost always the cancel is handled
    # first and the model is never called; should the sendtext win the race, its answer is cancelled as it streams.
    if len(frames) == 2:
        records = simulator_records(relay_gateway.url)
        assert not [record for record in records if record["last_user_text"] == "early-cancel"]
    send(ws, {"action": "history", "conversationId": frames[0]["conversationId"]})
    answer = recv(ws)["turns"][1]
    assert (answer["status"], answer["stop"], answer["text"]) == ("partial", "cancelled", answer_text(frames))
    send(ws, {"action": "resume", "requestId": "early-1", "after": -1})
    assert collect(ws) == frames


def test_the_losing_connection_of_a_double_resume_is_told(connect):
    """Issue 13.8: two connections resume one streaming answer; one receives the rest of it, the other an error
    frame `conflict` instead of silence."""
    text = "double-resume [[sim tokens=600 rate=150 ttft=0]]"
    ws = connect("double-resumer")
    send(ws, {"action": "sendtext", "text": text, "requestId": "twice-1"})
    received = [recv(ws), recv(ws)]
    ws.close()
    sockets = [connect("double-resumer"), connect("double-resumer")]
    for again in sockets:
        send(again, {"action": "resume", "requestId": "twice-1", "after": received[-1]["seq"]})
    endings = [collect(again, timeout=15) for again in sockets]

    done = [frames for frames in endings if frames[-1]["type"] == "done"]
    told = [frames for frames in endings if frames[-1]["type"] == "error"]
    assert len(done) == 1 and len(told) == 1
    assert (told[0][-1]["code"], told[0][-1]["requestId"], told[0][-1]["retryable"]) == ("conflict", "twice-1", False)
    assert answer_text(received + done[0]) == expected_reply(text).text
