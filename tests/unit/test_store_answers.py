"""Answer records against moto's DynamoDB: the batched cancel/resume read streaming answers make."""

from __future__ import annotations

from lambdas.store import answers
from lambdas.store.answers import Control


def streaming(table, request_id: str) -> None:
    table.put_item(**answers.new_record_put(request_id, "ann", "conn-1", "c1", 60)["Put"])


def test_one_read_covers_every_answer_even_beyond_one_batch(table):
    ids = [f"r{index}" for index in range(answers.MAX_BATCH_KEYS + 30)]
    for request_id in ids:
        streaming(table, request_id)
    assert answers.request_cancel("r7")
    assert answers.request_resume("r120", "conn-2", 5)

    controls = answers.poll_controls(ids)

    assert set(controls) == set(ids)
    assert controls["r7"] == Control(cancel=True)
    assert controls["r120"] == Control(resume_connection="conn-2", resume_after=5, resume_nonce=1)
    assert all(controls[request_id] == Control() for request_id in ids if request_id not in {"r7", "r120"})


def test_an_answer_without_a_record_reads_as_no_request(table):
    streaming(table, "here")
    assert answers.poll_controls(["here", "gone", "here"]) == {"here": Control(), "gone": Control()}


def test_no_answers_means_no_request(table):
    assert answers.poll_controls([]) == {}
