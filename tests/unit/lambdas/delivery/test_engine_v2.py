"""The delivery engine with protocol v2 output: reasoning coalesced like text into frames of its own, whole frames
(tool calls) in order, every frame within 32 KB."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas import protocol
from lambdas.delivery.engine import Delivery, DeliveryOptions
from tests.fakes import RecordingPoster, assert_well_formed


def _done(seq: int) -> dict:
    return protocol.done_frame("req-1", seq, "tool_use", 1, 1, 1, 1)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(
        st.tuples(st.sampled_from(["text", "reasoning", "call"]), st.text(min_size=1, max_size=30)), max_size=50
    ),
    throttle_rate=st.sampled_from([0.0, 0.3]),
)
def test_reasoning_text_and_calls_arrive_complete_in_their_own_frames_and_in_order(items, throttle_rate):
    poster = RecordingPoster(latency_s=0.0003, throttle_rate=throttle_rate)
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=0.001))
    delivery.start("sim")
    for kind, value in items:
        if kind == "text":
            delivery.text(value)
        elif kind == "reasoning":
            delivery.reasoning(value)
        else:
            delivery.frame(lambda seq, value=value: protocol.tool_use_frame("req-1", seq, "t", value, {}))
    delivery.finish(_done)
    assert delivery.wait(timeout=30)

    frames = poster.frames
    assert_well_formed(frames, "req-1")
    # Reading the frames back gives the same sequence of outputs (consecutive text of one kind merged).
    seen = []
    for frame in frames[1:-1]:
        kind = {"delta": "text", "reasoning": "reasoning", "tool_use": "call"}[frame["type"]]
        value = frame["name"] if kind == "call" else frame["text"]
        if seen and seen[-1][0] == kind != "call":
            seen[-1] = (kind, seen[-1][1] + value)
        else:
            seen.append((kind, value))
    merged = []
    for kind, value in items:
        if merged and merged[-1][0] == kind != "call":
            merged[-1] = (kind, merged[-1][1] + value)
        else:
            merged.append((kind, value))
    assert seen == merged


def test_long_reasoning_is_split_into_frames_within_the_limit():
    poster = RecordingPoster()
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=0.001, max_chars=10**9))
    delivery.start("sim")
    reasoning = '思考🚀"\\' * 20_000
    delivery.reasoning(reasoning)
    delivery.finish(_done)
    assert delivery.wait(timeout=30)
    parts = [frame for frame in poster.frames if frame["type"] == "reasoning"]
    assert len(parts) > 1
    assert "".join(frame["text"] for frame in parts) == reasoning
    assert max(len(raw) for raw in poster.raw) <= protocol.MAX_FRAME_BYTES
