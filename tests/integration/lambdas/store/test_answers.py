"""Answer records against moto's DynamoDB: the batched cancel/resume read streaming answers make."""

from __future__ import annotations

from lambdas.store import Store
from lambdas.store.answers import Control
from lambdas.store.table import MAX_BATCH_KEYS


def streaming(store: Store, request_id: str, owner: str = "ann") -> None:
    store.transact([store.answers.create(owner, request_id, "conn-1", "c1", 60)])


def test_one_read_covers_every_answer_even_beyond_one_batch(store):
    answers = [("ann", f"r{index}") for index in range(MAX_BATCH_KEYS + 30)]
    for _, request_id in answers:
        streaming(store, request_id)
    assert store.answers.request_cancel("ann", "r7")
    assert store.answers.request_resume("ann", "r120", "conn-2", 5) == "conn-1"

    controls = store.answers.poll(answers)

    assert set(controls) == set(answers)
    assert controls["ann", "r7"] == Control(cancel=True)
    assert controls["ann", "r120"] == Control(resume_connection="conn-2", resume_after=5, resume_nonce=1)
    assert all(controls[answer] == Control() for answer in answers if answer[1] not in {"r7", "r120"})


def test_an_answer_without_a_record_reads_as_no_request(store):
    streaming(store, "here")
    assert store.answers.poll([("ann", "here"), ("ann", "gone"), ("ann", "here")]) == {
        ("ann", "here"): Control(),
        ("ann", "gone"): Control(),
    }


def test_no_answers_means_no_request(store):
    assert store.answers.poll([]) == {}


def test_request_ids_are_scoped_to_their_owner(store):
    streaming(store, "same", owner="ann")
    streaming(store, "same", owner="bob")  # no conflict: another user's namespace

    assert store.answers.get("ann", "same").owner == "ann"
    assert store.answers.get("bob", "same").owner == "bob"
    assert store.answers.get("eve", "same") is None
    assert not store.answers.request_cancel("eve", "same")
    assert store.answers.poll([("ann", "same")]) == {("ann", "same"): Control()}


def test_a_cancel_before_the_answer_is_pending_until_withdrawn_or_taken(store):
    assert store.answers.cancel_before_start("ann", "early", "conn-1")
    assert not store.answers.cancel_before_start("ann", "early", "conn-1")  # one is pending already
    assert store.answers.get("ann", "early").status == "cancel_pending"
    assert store.answers.withdraw_cancel("ann", "early")
    assert store.answers.get("ann", "early") is None

    streaming(store, "started")
    assert not store.answers.cancel_before_start("ann", "started", "conn-1")  # the answer exists
    assert not store.answers.withdraw_cancel("ann", "started")
    assert store.answers.get("ann", "started").status == "streaming"


def test_frames_that_fit_are_stored_in_the_record_itself(store, table):
    streaming(store, "small")
    frames = [{"type": "start", "requestId": "small", "seq": 0}, {"type": "done", "requestId": "small", "seq": 1}]
    assert store.answers.end("ann", "small", frames) == Control()
    record = store.answers.get("ann", "small")
    assert (record.status, record.transcript_parts) == ("ended", 0)
    assert store.answers.transcript(record) == frames
    assert len(table.scan(TableName="relay-unit")["Items"]) == 1


def test_a_resume_says_which_connection_the_answer_leaves(store):
    streaming(store, "moving")
    assert store.answers.request_resume("ann", "moving", "conn-2", 3) == "conn-1"
    assert store.answers.request_resume("ann", "moving", "conn-3", 3) == "conn-2"
    store.answers.end("ann", "moving", [])
    assert store.answers.request_resume("ann", "moving", "conn-4", 3) is None  # ended: nothing to move
