"""One answer through relay(): terminal frames, the time guard, and the client's departure."""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator

from lambdas.answer.control import ControlWatcher, Resumes
from lambdas.answer.relay import Guards, Outcome, relay
from lambdas.delivery.engine import Delivery, DeliveryOptions
from lambdas.providers.events import ErrorKind, Event, ReasoningDelta, Start, Stop, TextDelta, UpstreamError
from lambdas.store.answers import AnswerKey, Control
from tests.fakes import RecordingPoster, assert_well_formed


class FakeUpstream:
    """A provider stream that records whether the relay closed it."""

    def __init__(self, events: list[Event], *, pause_s: float = 0.0, endless: bool = False) -> None:
        self.events = events
        self.pause_s = pause_s
        self.endless = endless
        self.closed = threading.Event()
        self.yielded = 0

    def stream(self) -> Iterator[Event]:
        try:
            yield Start("sim")
            while True:
                for event in self.events:
                    if self.pause_s:
                        time.sleep(self.pause_s)
                    self.yielded += 1
                    yield event
                if not self.endless:
                    return
        finally:
            self.closed.set()


def plenty_of_time() -> int:
    return 600_000


def run(upstream: FakeUpstream, poster: RecordingPoster, guards: Guards | None = None):
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=0.001))
    delivery.start("sim")
    outcome = relay(upstream.stream(), delivery, guards or Guards(plenty_of_time), started_at=time.monotonic())
    assert delivery.wait(timeout=10)
    return outcome


def test_a_complete_answer_ends_with_done_carrying_usage_and_timings():
    poster = RecordingPoster()
    upstream = FakeUpstream([TextDelta("Hel"), ReasoningDelta("(thinking)"), TextDelta("lo"), Stop("end_turn", 5, 2)])
    outcome = run(upstream, poster)
    assert poster.text() == "Hello"  # reasoning is never sent as answer text
    done = poster.frames[-1]
    assert done["type"] == "done"
    assert done["stopReason"] == "end_turn"
    assert done["usage"] == {"inputTokens": 5, "outputTokens": 2}
    assert done["metrics"]["firstTokenMs"] is not None
    assert done["metrics"]["totalMs"] >= done["metrics"]["firstTokenMs"]
    assert_well_formed(poster.frames, "req-1")
    assert outcome.status == "done"
    assert not outcome.upstream_closed_early


def test_an_upstream_error_mid_answer_gives_one_error_frame_after_the_text():
    poster = RecordingPoster()
    error = UpstreamError(ErrorKind.MODEL_ERROR, "boom", "modelStreamErrorException")
    run(FakeUpstream([TextDelta("partial"), error]), poster)
    assert poster.text() == "partial"
    last = poster.frames[-1]
    assert (last["type"], last["code"], last["retryable"]) == ("error", "model_error", False)
    assert_well_formed(poster.frames, "req-1")


def test_throttling_is_reported_retryable():
    poster = RecordingPoster()
    run(FakeUpstream([UpstreamError(ErrorKind.THROTTLED, "slow down", "ThrottlingException")]), poster)
    assert (poster.frames[-1]["code"], poster.frames[-1]["retryable"]) == ("throttled", True)


def test_a_stream_that_just_stops_is_an_upstream_error_not_silence():
    poster = RecordingPoster()
    run(FakeUpstream([TextDelta("cut")]), poster)
    assert poster.frames[-1]["code"] == "upstream_unavailable"
    assert_well_formed(poster.frames, "req-1")


def test_time_guard_flushes_closes_the_upstream_and_sends_time_limit():
    poster = RecordingPoster()
    upstream = FakeUpstream([TextDelta(" tick")], pause_s=0.01, endless=True)
    deadline = time.monotonic() + 0.3
    guards = Guards(lambda: round((deadline - time.monotonic()) * 1000), time_guard_ms=0, tick_s=0.02)
    outcome = run(upstream, poster, guards)
    assert poster.frames[-1]["type"] == "done"
    assert poster.frames[-1]["stopReason"] == "time_limit"
    assert poster.text().startswith(" tick")
    assert_well_formed(poster.frames, "req-1")
    assert outcome.upstream_closed_early
    assert upstream.closed.wait(timeout=5)


def test_time_guard_fires_even_while_the_model_is_silent():
    poster = RecordingPoster()
    upstream = FakeUpstream([TextDelta("late")], pause_s=30)
    deadline = time.monotonic() + 0.2
    guards = Guards(lambda: round((deadline - time.monotonic()) * 1000), time_guard_ms=0, tick_s=0.02)
    run(upstream, poster, guards)
    assert [f["type"] for f in poster.frames] == ["start", "done"]
    assert poster.frames[-1]["stopReason"] == "time_limit"


def test_client_gone_closes_the_upstream_after_the_grace_period():
    poster = RecordingPoster(gone_after=2)
    upstream = FakeUpstream([TextDelta(" word")], pause_s=0.005, endless=True)
    outcome = run(upstream, poster, Guards(plenty_of_time, gone_grace_s=0.3, tick_s=0.02))
    assert outcome.status == "gone"
    assert outcome.upstream_closed_early
    assert upstream.closed.wait(timeout=5)
    # the model was still read during the grace period (the window a resume can use)
    assert upstream.yielded > 10


def test_zero_grace_closes_the_upstream_at_once():
    poster = RecordingPoster(gone_after=1)
    upstream = FakeUpstream([TextDelta(" word")], pause_s=0.005, endless=True)
    outcome = run(upstream, poster, Guards(plenty_of_time, gone_grace_s=0, tick_s=0.02))
    assert outcome.status == "gone"
    assert upstream.closed.wait(timeout=5)


class FakeControls:
    """What cancel and resume handlers wrote, read the way `Answers.poll` reads it: one call for many answers."""

    def __init__(self) -> None:
        self.controls: dict[str, Control] = {}
        self.reads: list[list[str]] = []
        self.fail = False

    def read(self, answers: Collection[AnswerKey]) -> dict[AnswerKey, Control]:
        self.reads.append(sorted(request_id for _, request_id in answers))
        if self.fail:
            raise RuntimeError("table unavailable")
        return {answer: self.controls.get(answer[1], Control()) for answer in answers}


def run_answers(count: int, controls: FakeControls, cancel: set[int], interval_s: float = 0.02) -> list[Outcome]:
    """`count` answers at once in this process, all reading their control state through one reader."""
    outcomes: list[Outcome | None] = [None] * count
    watcher = ControlWatcher(controls.read, interval_s)
    for index in cancel:
        controls.controls[f"req-{index}"] = Control(cancel=True)

    def answer(index: int) -> None:
        delivery = Delivery(RecordingPoster(), f"req-{index}", DeliveryOptions(coalesce_s=0.001))
        delivery.start("sim")
        upstream = FakeUpstream([TextDelta(" word")], pause_s=0.005, endless=index in cancel)
        if index not in cancel:
            upstream = FakeUpstream([TextDelta(" word")] * 40 + [Stop("end_turn", 1, 40)], pause_s=0.005)
        guards = Guards(plenty_of_time, tick_s=0.01, control=watcher.watch(("ann", f"req-{index}")))
        outcomes[index] = relay(upstream.stream(), delivery, guards, started_at=time.monotonic())
        assert delivery.wait(timeout=10)

    threads = [threading.Thread(target=answer, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


def test_cancel_stops_an_answer_within_the_control_interval():
    controls = FakeControls()
    started = time.monotonic()
    [outcome] = run_answers(1, controls, cancel={0}, interval_s=0.05)
    assert outcome.status == "cancelled"
    assert outcome.stop_reason == "cancelled"
    assert time.monotonic() - started < 1.0


def test_answers_of_one_process_share_one_control_read_per_interval():
    controls = FakeControls()
    outcomes = run_answers(12, controls, cancel={3, 7})
    assert [outcome.status for outcome in outcomes] == ["cancelled" if i in {3, 7} else "done" for i in range(12)]
    # Once every answer is watched, each read covers several answers: far fewer reads than answers × intervals.
    assert max(len(ids) for ids in controls.reads) > 1
    assert all(len(ids) == len(set(ids)) for ids in controls.reads)


def test_a_failing_control_read_never_ends_the_answer():
    controls = FakeControls()
    controls.fail = True
    [outcome] = run_answers(1, controls, cancel=set())
    assert outcome.status == "done"
    assert controls.reads  # it kept trying


def test_a_resume_request_retargets_the_answer_to_the_new_connection():
    controls = FakeControls()
    first, second = RecordingPoster(gone_after=2), RecordingPoster()
    delivery = Delivery(first, "req-r", DeliveryOptions(coalesce_s=0.001))
    delivery.start("sim")
    upstream = FakeUpstream([TextDelta(" word")] * 60 + [Stop("end_turn", 1, 60)], pause_s=0.01)

    def resume_later() -> None:
        time.sleep(0.2)
        controls.controls["req-r"] = Control(resume_connection="conn-2", resume_after=0, resume_nonce=1)

    threading.Thread(target=resume_later).start()
    guards = Guards(
        plenty_of_time,
        tick_s=0.01,
        control=ControlWatcher(controls.read, 0.02).watch(("ann", "req-r")),
        resumes=Resumes(delivery, lambda connection_id: second),
    )
    outcome = relay(upstream.stream(), delivery, guards, started_at=time.monotonic())
    assert delivery.wait(timeout=10)
    assert outcome.resume_nonce == 1
    assert outcome.status == "done"
    assert second.frames[-1]["type"] == "done"
    assert [frame["seq"] for frame in second.frames] == list(range(1, second.frames[-1]["seq"] + 1))
