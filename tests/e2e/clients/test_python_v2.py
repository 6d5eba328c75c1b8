"""The Python client against the relay of issues 14 and 15 (behind localgw): long text sent in parts, a tool round
trip, reasoning, attachments, and the terminal chat showing reasoning and tool calls.

These need the relay's side of those issues (sendtext parts, `attach`, tools, reasoning in the simulator and the
catalogue). Against a relay without it they fail — the relay refuses the new fields as unknown — and are not
skipped: a green run here means the two halves meet.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from relay_client import ForbiddenError, Model, RelayClient, ToolUse

from tests.e2e.clients.test_python import FAST, TIMEOUT, collect, run

CLOCK = {
    "name": "clock",
    "description": "The current time in a time zone",
    "inputSchema": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
}


def png(size: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(size - 8)


def first(models: list[Model], what: str, predicate: Any) -> Model:
    chosen = [model for model in models if predicate(model)]
    assert chosen, f"no model {what} in {models}"
    return chosen[0]


def test_200000_characters_of_cjk_and_emoji_give_one_answer_that_saw_every_word(client):
    words: list[str] = []
    length = 0
    while length < 200_000 - 40:
        word = ("日本語", "中文🇯🇵", "emoji👍🏽")[len(words) % 3] + str(len(words))
        words.append(word)
        length += len(word) + 1
    text = " ".join(words) + f" {FAST}"

    async def scenario() -> Any:
        async with client() as relay:
            answer = await relay.ask(text, max_tokens=30)
            assert len(answer._messages) > 1, "sent in parts"
            events = await collect(answer)
            return events, await answer.result()

    events, result = run(scenario())
    assert sum(1 for event in events if type(event).__name__ == "Start") == 1
    assert result.usage.input_tokens == len(words), "the model received every word"
    assert result.text.startswith("Turn 1. You said: " + " ".join(words[:10]))


def test_a_tool_round_trip_on_every_model_that_takes_tools(client):
    async def scenario() -> list[tuple[str, list[Any], Any, str]]:
        rounds = []
        async with client() as relay:
            models = [model for model in await relay.models() if model.tools]
            assert models, "no model says tools: true"
            for model in models:
                answer = await relay.ask(f"What time is it? [[sim tool=clock]] {FAST}", model=model.id, tools=[CLOCK])
                events = await collect(answer)
                result = await answer.result()
                calls = [event for event in events if isinstance(event, ToolUse)]
                follow_up = await relay.ask(
                    model=model.id,
                    conversation_id=result.conversation_id,
                    tools=[CLOCK],
                    tool_results=[{"toolUseId": call.tool_use_id, "content": "12:34"} for call in calls],
                )
                rounds.append((model.id, calls, result, await follow_up.text()))
        return rounds

    for model_id, calls, result, reply in run(scenario()):
        assert [call.name for call in calls] == ["clock"], model_id
        assert isinstance(calls[0].input.get("zone"), str)
        assert result.stop_reason == "tool_use" and result.tool_uses == tuple(calls)
        assert reply.startswith("Turn 2. Tool clock returned: 12:34"), (model_id, reply)


def test_reasoning_arrives_as_reasoning_events_before_the_text(client):
    async def scenario() -> tuple[list[Any], Any]:
        async with client() as relay:
            thinker = first(await relay.models(), "with reasoning", lambda model: model.reasoning)
            answer = await relay.ask(f"Think first [[sim think=12]] {FAST}", model=thinker.id, reasoning=True)
            return await collect(answer), await answer.result()

    events, result = run(scenario())
    kinds = [type(event).__name__ for event in events]
    assert "Reasoning" in kinds and kinds.index("Text") > max(i for i, k in enumerate(kinds) if k == "Reasoning")
    assert len(result.reasoning.split()) == 12
    assert result.text.startswith("Turn 1. You said: Think first")


def test_an_attached_image_reaches_the_model_and_another_user_may_not_use_it(client, relay_gateway, tmp_path):
    path = tmp_path / "dot.png"
    path.write_bytes(png(2048))

    async def scenario() -> tuple[str, ForbiddenError]:
        async with client() as relay:
            seeing = first(await relay.models(), "taking images", lambda model: "image" in model.attachments)
            attachment = await relay.attach(path)
            reply = await (await relay.ask(f"What is this? {FAST}", model=seeing.id, attachments=[attachment])).text()
        other = RelayClient(relay_gateway.ws_url, token=relay_gateway.dev_issuer.mint("someone-else"))
        async with other:
            with pytest.raises(ForbiddenError) as caught:
                await (await other.ask("peek", model=seeing.id, attachments=[attachment])).text()
        return reply, caught.value

    reply, forbidden = run(scenario())
    assert reply.splitlines()[0].startswith("[image png 2048 bytes]")
    assert forbidden.code == "forbidden"


def test_chat_shows_reasoning_dimmed_on_stderr_and_only_the_answer_on_stdout(client, relay_gateway, user):
    async def thinker() -> Model:
        async with client() as relay:
            return first(await relay.models(), "with reasoning", lambda model: model.reasoning)

    model = run(thinker())
    question = f"Think first [[sim think=5]] {FAST}"
    command = [sys.executable, "-m", "relay_client", "--url", relay_gateway.ws_url, "--reasoning"]
    command += ["--token", relay_gateway.dev_issuer.mint(user), "--model", model.id, question]
    process = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT)
    assert process.returncode == 0, process.stderr
    assert process.stdout.startswith("Turn 1. You said: Think first")
    assert len(process.stderr.split("thinking:")[1].splitlines()[0].split()) == 5


def test_chat_runs_its_clock_tool_when_the_model_calls_it_and_prints_the_follow_up(relay_gateway, user):
    question = f"What time is it? [[sim tool=local_clock]] {FAST}"
    command = [sys.executable, "-m", "relay_client", "--url", relay_gateway.ws_url, "--clock", "--model", "claude"]
    command += ["--token", relay_gateway.dev_issuer.mint(user), question]
    process = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=TIMEOUT)
    assert process.returncode == 0, process.stderr
    assert "→ tool local_clock {" in process.stderr and "← local_clock: {" in process.stderr
    assert "Turn 2. Tool local_clock returned:" in process.stdout
