"""`history` frames with protocol v2 content: calls, results and reasoning ride on a turn's entries, and every frame
stays under 32 KB however much a turn holds."""

from __future__ import annotations

from lambdas.handlers.history import _frames, _turn_entries
from lambdas.protocol import MAX_FRAME_BYTES, encode
from lambdas.providers.content import ReasoningBlock, ToolCall, ToolResult
from lambdas.store.conversations import Turn


def test_small_content_rides_on_the_turns_entry():
    turn = Turn(2, "assistant", "Calling.", "r1", stop="tool_use", tool_uses=(ToolCall("t1", "calc", {"e": 1}),),
                reasoning=(ReasoningBlock("hmm", "sig"), ReasoningBlock(redacted="x")))  # fmt: skip
    (entry,) = _turn_entries(turn)
    assert entry["toolUses"] == [{"toolUseId": "t1", "name": "calc", "input": {"e": 1}}]
    assert entry["reasoning"] == "hmm"
    assert "signature" not in str(entry) and "toolResults" not in entry


def test_a_v1_turn_has_no_new_keys():
    (entry,) = _turn_entries(Turn(1, "user", "hi"))
    assert set(entry) == {"turn", "role", "text", "at"}


def test_large_content_spills_into_entries_of_its_own_and_every_frame_fits():
    results = tuple(ToolResult(f"t{i}", "é\n" * 6_800) for i in range(3))  # ~27 KB each once escaped
    user = Turn(3, "user", "and also " * 3_000, tool_results=results)
    answer = Turn(4, "assistant", "", "r2", reasoning=(ReasoningBlock("思考" * 30_000, "sig"),))
    entries = [*_turn_entries(user), *_turn_entries(answer)]
    frames = _frames("c1", "title", entries)

    assert all(len(encode(frame)) <= MAX_FRAME_BYTES for frame in frames)
    turns = [entry for frame in frames for entry in frame["turns"]]
    assert "".join(e["text"] for e in turns if e["turn"] == 3) == user.text
    assert [r["toolUseId"] for e in turns for r in e.get("toolResults", ())] == ["t0", "t1", "t2"]
    assert "".join(e.get("reasoning", "") for e in turns if e["turn"] == 4) == "思考" * 30_000
