"""One answer through relay(): terminal frames, the time guard, and the client's departure."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from lambdas.delivery.engine import Delivery, DeliveryOptions
from lambdas.providers.events import ErrorKind, Event, ReasoningDelta, Start, Stop, TextDelta, UpstreamError
from lambdas.relay import Guards, relay
from tests.unit.fakes import RecordingPoster, assert_well_formed


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
