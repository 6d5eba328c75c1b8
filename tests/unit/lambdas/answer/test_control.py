"""The control watcher (one per process, shared by its answers) and the one place a resume is served."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection

from lambdas.answer.control import ControlWatcher, Resumes
from lambdas.delivery.engine import Delivery, DeliveryOptions
from lambdas.store.answers import AnswerKey, Control
from tests.fakes import RecordingPoster


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_the_watcher_reads_all_watched_answers_at_once_and_stops_when_none_is_left():
    reads: list[list[AnswerKey]] = []

    def read(answers: Collection[AnswerKey]) -> dict[AnswerKey, Control]:
        reads.append(sorted(answers))
        return {answer: Control(cancel=answer == ("ann", "r2")) for answer in answers}

    watcher = ControlWatcher(read, 0.01)
    first, second = watcher.watch(("ann", "r1")), watcher.watch(("ann", "r2"))
    assert wait_until(lambda: second.latest().cancel)
    assert not first.latest().cancel
    assert [("ann", "r1"), ("ann", "r2")] in reads
    first.close()
    second.close()
    assert wait_until(lambda: not any(t.name == "answer-control" and t.is_alive() for t in threading.enumerate()))
    settled = len(reads)
    time.sleep(0.05)
    assert len(reads) == settled  # no thread, no reads between answers


def test_an_answer_sees_only_its_own_requests_keyed_by_owner():
    watcher = ControlWatcher(lambda answers: {answer: Control(cancel=answer[0] == "bob") for answer in answers}, 0.01)
    ann, bob = watcher.watch(("ann", "same")), watcher.watch(("bob", "same"))
    assert wait_until(lambda: bob.latest().cancel)
    assert not ann.latest().cancel
    ann.close()
    bob.close()


def test_each_resume_request_is_served_once():
    first, second = RecordingPoster(), RecordingPoster()
    delivery = Delivery(first, "r1", DeliveryOptions(coalesce_s=0))
    delivery.start("sim")
    resumes = Resumes(delivery, lambda connection_id: second)

    assert not resumes.serve(Control())
    assert resumes.serve(Control(resume_connection="conn-2", resume_after=-1, resume_nonce=1))
    assert not resumes.serve(Control(resume_connection="conn-2", resume_after=-1, resume_nonce=1))
    delivery.finish(lambda seq: {"type": "done", "requestId": "r1", "seq": seq})
    assert delivery.wait(timeout=5)
    assert [frame["seq"] for frame in second.frames] == [0, 1]
    assert resumes.served_nonce == 1
