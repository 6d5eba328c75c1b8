"""The delivery engine: order, completeness, coalescing, splitting, retries and departure of the client."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas import protocol
from lambdas.delivery.engine import TEXT_BUDGET, Delivery, DeliveryOptions
from lambdas.delivery.errors import PostError
from lambdas.delivery.retry import RetryPolicy
from tests.fakes import RecordingPoster, assert_well_formed

FAST_RETRY = RetryPolicy(max_attempts=50, backoff_base_s=0.0005, backoff_cap_s=0.002)


def done(delivery: Delivery):
    return lambda seq: protocol.done_frame(delivery.request_id, seq, "end_turn", 3, 7, 1, 2)


def run_answer(poster: RecordingPoster, chunks: list[str], options: DeliveryOptions, gap_s: float = 0.0) -> Delivery:
    delivery = Delivery(poster, "req-1", options)
    delivery.start("sim")
    for chunk in chunks:
        delivery.text(chunk)
        if gap_s:
            time.sleep(gap_s)
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=30)
    return delivery


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    chunks=st.lists(st.text(min_size=1, max_size=40), min_size=0, max_size=60),
    throttle_rate=st.sampled_from([0.0, 0.2, 0.5]),
    seed=st.integers(0, 1000),
)
def test_text_arrives_complete_and_in_order_under_latency_and_throttling(chunks, throttle_rate, seed):
    # GIVEN a client whose posts take random time and are throttled at random
    poster = RecordingPoster(latency_s=0.0005, throttle_rate=throttle_rate, seed=seed)
    # WHEN an answer streams through the engine
    delivery = run_answer(poster, chunks, DeliveryOptions(coalesce_s=0.001, retry=FAST_RETRY))
    # THEN the client has every character once, in order, with contiguous seq and one terminal frame
    assert poster.text() == "".join(chunks)
    assert_well_formed(poster.frames, "req-1")
    assert poster.frames[-1]["type"] == "done"
    assert delivery.stats.posts == len(poster.frames)
    assert not delivery.failed


def test_first_delta_is_posted_at_once_and_later_text_is_coalesced():
    poster = RecordingPoster()
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=5.0))
    delivery.start("sim")
    delivery.text("Hello")
    deadline = time.monotonic() + 5
    while len(poster.frames) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    # the first delta did not wait for the 5 s coalescing interval
    assert [f["type"] for f in poster.frames] == ["start", "delta"]
    for word in [" a", " b", " c"]:
        delivery.text(word)
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=5)
    # the three later chunks went out as one frame, flushed before the terminal frame
    assert [(f["type"], f.get("text")) for f in poster.frames] == [
        ("start", None),
        ("delta", "Hello"),
        ("delta", " a b c"),
        ("done", None),
    ]


def test_text_waits_at_most_the_coalescing_interval():
    poster = RecordingPoster()
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=0.05))
    delivery.start("sim")
    delivery.text("first")
    delivery.text(" second")  # may join the first delta or wait for the interval
    deadline = time.monotonic() + 5
    while poster.text() != "first second" and time.monotonic() < deadline:
        time.sleep(0.005)
    # without any terminal frame, the pending text still went out on its own
    assert poster.text() == "first second"
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=5)


def test_many_small_chunks_make_few_posts():
    poster = RecordingPoster(latency_s=0.002)
    chunks = [f" w{i}" for i in range(400)]
    delivery = run_answer(poster, chunks, DeliveryOptions(coalesce_s=0.05), gap_s=0.0005)
    assert poster.text() == "".join(chunks)
    assert delivery.stats.posts < 40  # against 400 posts for one post per chunk


def test_pending_text_over_max_chars_is_posted_without_waiting():
    poster = RecordingPoster()
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=60.0, max_chars=10))
    delivery.start("sim")
    delivery.text("a")
    delivery.text("0123456789")
    deadline = time.monotonic() + 5
    while poster.text() != "a0123456789" and time.monotonic() < deadline:
        time.sleep(0.001)
    assert poster.text() == "a0123456789"
    delivery.stop()


@pytest.mark.parametrize(
    "text",
    [
        "x" * 100_000,
        "日本語のテキスト" * 5_000,
        "emoji 🎉 " * 8_000,
        '"quoted"\n\\escaped\\\t' * 4_000,
        "\x01\x02" * 12_000,
    ],
    ids=["ascii", "japanese", "emoji", "escapes", "control-chars"],
)
def test_long_text_is_split_into_frames_of_at_most_32_kb_never_truncated(text):
    poster = RecordingPoster()
    run_answer(poster, [text], DeliveryOptions())
    assert poster.text() == text
    assert max(len(raw) for raw in poster.raw) <= protocol.MAX_FRAME_BYTES
    assert sum(f["type"] == "delta" for f in poster.frames) >= 2
    assert_well_formed(poster.frames, "req-1")
    for raw in poster.raw:
        raw.decode("utf-8")  # each frame is valid UTF-8 on its own: no split inside a sequence


def test_a_split_frame_fills_its_budget():
    poster = RecordingPoster()
    run_answer(poster, ["é" * 40_000], DeliveryOptions())
    first_delta = next(raw for raw, f in zip(poster.raw, poster.frames, strict=True) if f["type"] == "delta")
    assert protocol.MAX_FRAME_BYTES - 200 < len(first_delta) <= protocol.MAX_FRAME_BYTES
    assert TEXT_BUDGET < protocol.MAX_FRAME_BYTES


def test_client_gone_stops_posting():
    poster = RecordingPoster(gone_after=2)
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=0.0))
    delivery.start("sim")
    delivery.text("one")
    deadline = time.monotonic() + 5
    while len(poster.frames) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    for _ in range(5):
        delivery.text(" more")
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=5)
    assert delivery.gone
    assert len(poster.frames) == 2
    attempts_when_gone = poster.attempts
    time.sleep(0.05)
    assert poster.attempts == attempts_when_gone  # nothing further is tried


def test_throttling_beyond_the_retry_bound_gives_up_and_says_so():
    poster = RecordingPoster(throttle_rate=1.0)
    delivery = Delivery(poster, "req-1", DeliveryOptions(retry=RetryPolicy(3, 0.0001, 0.0001)))
    delivery.start("sim")
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=5)
    assert delivery.failed
    assert "3 attempts" in (delivery.stats.failure or "")
    assert poster.attempts == 3


def test_a_post_that_cannot_succeed_is_not_retried():
    poster = RecordingPoster(fail_with=PostError)
    delivery = Delivery(poster, "req-1", DeliveryOptions(retry=FAST_RETRY))
    delivery.start("sim")
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=5)
    assert delivery.failed
    assert poster.attempts == 1


def test_reading_never_waits_on_a_slow_post():
    poster = RecordingPoster(latency_s=0.5)
    delivery = Delivery(poster, "req-1", DeliveryOptions())
    delivery.start("sim")
    handed_over = threading.Event()

    def produce():
        for i in range(1000):
            delivery.text(f" {i}")
        handed_over.set()

    producer = threading.Thread(target=produce)
    producer.start()
    # handing 1000 chunks over completes while the first (slow) post is still in flight
    assert handed_over.wait(timeout=5)
    assert poster.attempts <= 2
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=10)
    assert poster.text() == "".join(f" {i}" for i in range(1000))


def test_after_the_client_is_gone_frames_still_complete_the_journal():
    poster = RecordingPoster(gone_after=2)
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=0.0))
    delivery.start("sim")
    delivery.text("one")
    deadline = time.monotonic() + 5
    while not delivery.gone and time.monotonic() < deadline:
        delivery.text(" more")
        time.sleep(0.001)
    delivery.text(" tail")
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=5)
    assert delivery.gone
    assert_well_formed(delivery.journal, "req-1")
    assert delivery.text_so_far().endswith(" tail")
    assert len(poster.frames) == 2


def test_retarget_replays_everything_after_the_given_seq_then_the_live_rest():
    old = RecordingPoster(gone_after=3)
    delivery = Delivery(old, "req-1", DeliveryOptions(coalesce_s=0.0))
    delivery.start("sim")
    chunks = [f" w{i}" for i in range(20)]
    for chunk in chunks[:10]:
        delivery.text(chunk)
        time.sleep(0.001)
    deadline = time.monotonic() + 5
    while not delivery.gone and time.monotonic() < deadline:
        time.sleep(0.001)
    received = old.frames
    last_seq = received[-1]["seq"]

    new = RecordingPoster()
    delivery.retarget(new, after=last_seq)
    for chunk in chunks[10:]:
        delivery.text(chunk)
    delivery.finish(done(delivery))
    assert delivery.wait(timeout=5)

    # The client's frames from both connections are exactly an uninterrupted answer.
    frames = received + new.frames
    assert_well_formed(frames, "req-1")
    assert "".join(f["text"] for f in frames if f["type"] == "delta") == "".join(chunks)


def test_retarget_of_a_finished_answer_replays_its_tail():
    first = RecordingPoster()
    delivery = run_answer(first, ["a", "b", "c"], DeliveryOptions(coalesce_s=0.0))
    second = RecordingPoster()
    delivery.retarget(second, after=0)
    assert delivery.wait(timeout=5)
    deadline = time.monotonic() + 5
    while len(second.frames) < len(first.frames) - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert second.frames == first.frames[1:]
