"""The Python client's pieces that need no relay: long text split into `sendtext` parts, the attachment checks and
their multipart body, how the terminal chat shows reasoning and tool calls — and the reconnect bound against a
local server that accepts every connection and closes it at once (the reconnect loop of issue 15)."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from relay_client import (
    FRAME_BUDGET_BYTES,
    FRAME_LIMIT_BYTES,
    MAX_PARTS,
    AttachmentRefusedError,
    ConnectionFailedError,
    ConnectionState,
    Done,
    Metrics,
    Reasoning,
    RelayClient,
    Start,
    Text,
    ToolUse,
    Turn,
    Usage,
    split_sendtext,
)
from relay_client.attachments import check, multipart
from relay_client.chat import DIM, Renderer, local_clock
from relay_client.client import _joined
from relay_client.parts import SplitError, message_bytes
from websockets.asyncio.server import serve

BASE = {"action": "sendtext", "requestId": "r-split", "model": "claude", "conversationId": "c1", "system": "brief"}


def repeated(unit: str, length: int = 200_000) -> str:
    return (unit * (length // len(unit) + 1))[:length]


@pytest.mark.parametrize(
    "unit",
    ["日本語の文章です。", "😀👍🏽🇯🇵", '"\\\n\t\u0001', '漢字 emoji 😀 "quoted" \\ text\n'],
    ids=["cjk", "emoji", "json-escapes", "mixed"],
)
def test_long_text_is_split_into_parts_under_the_frame_limit_and_joins_back_exactly(unit):
    text = repeated(unit)
    parts = split_sendtext({**BASE, "text": text})
    assert 1 < len(parts) <= MAX_PARTS
    assert "".join(part["text"] for part in parts) == text
    for index, part in enumerate(parts):
        wire = json.dumps(part, ensure_ascii=False, separators=(",", ":")).encode()
        assert len(wire) == message_bytes(part) <= FRAME_BUDGET_BYTES < FRAME_LIMIT_BYTES
        assert (part["part"], part["parts"]) == (index, len(parts))
        assert {key: value for key, value in part.items() if key not in ("text", "part", "parts")} == BASE
    assert all(message_bytes(part) > FRAME_BUDGET_BYTES - 64 for part in parts[:-1]), "parts fill the budget"


def test_a_message_that_fits_is_sent_whole_without_part_fields():
    assert split_sendtext({**BASE, "text": "short"}) == [{**BASE, "text": "short"}]


def test_no_split_fits_more_than_64_parts_or_fields_that_fill_the_frame():
    with pytest.raises(SplitError, match="64"):
        split_sendtext({**BASE, "text": "x" * (MAX_PARTS + 1) * FRAME_BUDGET_BYTES})
    with pytest.raises(SplitError, match="fields other than text"):
        split_sendtext({**BASE, "system": "s" * FRAME_BUDGET_BYTES, "text": "x"})


@pytest.mark.parametrize(
    ("name", "content_type", "size", "kinds", "reason"),
    [
        ("a.png", "image/png", 2048, None, None),
        ("notes.md", "text/markdown", 10, None, None),
        ("a.exe", "application/x-msdownload", 10, None, "wrong_type"),
        ("big.jpg", "image/jpeg", 3_750_001, None, "too_big"),
        ("big.pdf", "application/pdf", 4_500_001, None, "too_big"),
        ("empty.txt", "text/plain", 0, None, "empty"),
        ("a.pdf", "application/pdf", 10, ("image",), "wrong_type"),
    ],
)
def test_attachment_checks_before_upload(name, content_type, size, kinds, reason):
    problem = check(name, content_type, size, kinds)
    assert (problem.reason if problem else None) == reason
    if problem:
        assert name in problem.message


def test_attach_refuses_a_wrong_type_before_anything_is_sent(tmp_path):
    path = tmp_path / "tool.exe"
    path.write_bytes(b"MZ")

    async def scenario() -> AttachmentRefusedError:
        relay = RelayClient("ws://127.0.0.1:9/dev")  # never connected: the refusal needs no relay
        with pytest.raises(AttachmentRefusedError) as caught:
            await relay.attach(path)
        return caught.value

    error = asyncio.run(scenario())
    assert (error.code, error.field, error.reason) == ("bad_request", "attachments", "wrong_type")


def test_the_multipart_body_puts_the_presigned_fields_first_and_the_file_last():
    body, header = multipart({"key": "u/1/a.png", "policy": "p"}, "a.png", "image/png", b"\x89PNG")
    boundary = header.split("boundary=")[1]
    sections = body.split(f"--{boundary}".encode())
    assert b'name="key"\r\n\r\nu/1/a.png' in sections[1] and b'name="policy"' in sections[2]
    assert b'name="file"; filename="a.png"' in sections[3] and sections[3].endswith(b"\x89PNG\r\n")
    assert sections[4] == b"--\r\n"


def test_the_chat_shows_reasoning_dimmed_on_stderr_and_tool_calls_as_lines():
    out, err = io.StringIO(), io.StringIO()
    renderer = Renderer(out, err, color=True)
    for event in [
        Start("r", 0, "claude", "c"),
        Reasoning("r", 1, "Let me"),
        Reasoning("r", 2, " think."),
        Text("r", 3, "It is noon."),
        ToolUse("r", 4, "t1", "clock", {"zone": "UTC"}),
        Done("r", 5, "tool_use", Usage(), Metrics()),
    ]:
        renderer.event(event)
    assert out.getvalue() == "It is noon.\n", "stdout carries exactly the answer's text"
    lines = err.getvalue().splitlines()
    assert lines[0] == f"{DIM}thinking: Let me\x1b[0m{DIM} think.\x1b[0m"
    assert '→ tool clock {"zone": "UTC"}' in lines[1]
    assert "the model called a tool" in lines[2]


def test_the_chats_clock_tool_answers_in_a_known_zone_and_refuses_an_unknown_one():
    status, content = local_clock({"timeZone": "Asia/Tokyo"})
    assert status == "success" and content["timeZone"] == "Asia/Tokyo" and content["now"].endswith("+09:00")
    assert local_clock({"timeZone": "Mars/Olympus"}) == ("error", "unknown time zone: Mars/Olympus")
    assert local_clock({})[0] == "success"


def test_reconnect_gives_up_on_a_server_that_accepts_and_closes_every_connection():
    async def scenario() -> tuple[int, list[ConnectionState], Exception]:
        connections = 0

        async def close_at_once(ws: Any) -> None:
            nonlocal connections
            connections += 1
            await ws.close(1011, "go away")

        async with serve(close_at_once, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            states: list[ConnectionState] = []
            relay = RelayClient(
                f"ws://127.0.0.1:{port}/dev",
                max_attempts=4,
                backoff_base=0.01,
                on_state=lambda change: states.append(change.state),
            )
            await relay.connect()
            answer = await relay.ask("hello?")
            with pytest.raises(ConnectionFailedError) as caught:
                await asyncio.wait_for(answer.text(), 10)
            await asyncio.sleep(0.2)
            count = connections
            await relay.close()
            return count, states, caught.value

    connections, states, error = asyncio.run(scenario())
    assert connections == 4, "one connection per attempt, and none after giving up"
    assert states[-1] == ConnectionState.FAILED
    assert "1011" in str(error.__cause__)


def test_history_joins_a_v2_turn_split_over_entries():
    first = Turn(2, "assistant", "Let me ", reasoning="The user ", tool_uses=({"toolUseId": "t1"},))
    rest = Turn(2, "assistant", "calculate.", reasoning="wants 14.", tool_uses=({"toolUseId": "t2"},))
    joined = _joined(first, rest)
    assert (joined.text, joined.reasoning) == ("Let me calculate.", "The user wants 14.")
    assert [call["toolUseId"] for call in joined.tool_uses] == ["t1", "t2"]
    assert _joined(Turn(3, "user", "", tool_results=({"toolUseId": "t1"},)), Turn(3, "user", "")).reasoning is None
