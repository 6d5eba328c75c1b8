"""The Python client (clients/python, `relay_client`) against the real relay behind localgw.

Everything a caller relies on without seeing it: exact text through connections killed by the server (DELETE on
@connections) and by a dropped TCP socket at random points, concurrent answers, cancel, a token callable called
on every reconnect, typed errors for every code the relay produces, a 1009 close that fails its ask without a
resend — and the terminal chat, one-shot and interactive, as a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from relay_client import (
    FRAME_BUDGET_BYTES,
    MAX_PARTS,
    BadRequestError,
    ConnectionState,
    Done,
    Error,
    ForbiddenError,
    MessageTooBigError,
    ModelError,
    NotFoundError,
    RateLimitedError,
    RelayClient,
    RelayError,
    Start,
    Text,
    ThrottledError,
    UnknownActionError,
)

from localgw import GatewayHandle
from localgw.simulator import SimConversation, plan_reply
from tests.e2e.client import expected_reply

T = TypeVar("T")
FAST = "[[sim rate=100000 ttft=0]]"
STREAM = "[[sim tokens=400 rate=400 ttft=0]]"  # about one second of streaming: room to kill it mid-answer
TIMEOUT = 20.0


def run(coroutine: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coroutine, TIMEOUT)

    return asyncio.run(bounded())


def connection_ids(relay_gateway: GatewayHandle, relay: RelayClient) -> list[str]:
    assert relay.connection is not None
    agent = relay.connection.request.headers["User-Agent"]
    for _ in range(5):
        try:
            connections = list(relay_gateway.gateway.registry)
            break
        except RuntimeError:  # changed size during iteration: the gateway runs in another thread
            time.sleep(0.01)
    return [c.connection_id for c in connections if c.peer.user_agent == agent and c.is_open]


def delete_connection(relay_gateway: GatewayHandle, management_client: Callable[..., Any], relay: RelayClient) -> None:
    """The server ends the connection: DELETE @connections/{id}, as the relay's owner could."""
    api = management_client(relay_gateway)
    for connection_id in connection_ids(relay_gateway, relay):
        api.delete_connection(ConnectionId=connection_id)


def drop_tcp(relay: RelayClient) -> None:
    """The network ends the connection: the socket is gone, no close frame either way."""
    assert relay.connection is not None
    relay.connection.transport.abort()


async def collect(answer: Any) -> list[Any]:
    return [event async for event in answer]


def test_a_full_answer_is_the_simulators_text_as_typed_events(client):
    text = f"Hello from Python {FAST}"

    async def scenario() -> tuple[list[Any], Any]:
        async with client() as relay:
            answer = await relay.ask(text, request_id="py-full-1", max_tokens=500, temperature=0.5, system="Be brief")
            events = await collect(answer)
            return events, await answer.result()

    events, result = run(scenario())
    plan = expected_reply(text)
    assert isinstance(events[0], Start) and events[0].model and events[0].conversation_id
    assert all(isinstance(event, Text) for event in events[1:-1])
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "end_turn"
    assert [event.seq for event in events] == list(range(len(events)))
    assert "".join(event.text for event in events[1:-1]) == plan.text
    assert (result.text, result.request_id, result.stop_reason) == (plan.text, "py-full-1", "end_turn")
    assert result.usage.output_tokens == plan.output_tokens
    assert result.metrics.total_ms is not None
    assert result.conversation_id == events[0].conversation_id


def test_two_concurrent_answers_are_routed_by_request_id_and_continue_a_conversation(client):
    first, second = f"first of two {STREAM}", f"second of two {FAST}"

    async def scenario() -> tuple[str, str, str, Any]:
        async with client() as relay:
            one = await relay.ask(first)
            two = await relay.ask(second)
            text_one, text_two = await asyncio.gather(one.text(), two.text())
            follow_up = await relay.ask(f"and again {FAST}", conversation_id=one.conversation_id)
            return text_one, text_two, await follow_up.text(), await relay.history(one.conversation_id)

    text_one, text_two, text_three, history = run(scenario())
    assert text_one == expected_reply(first).text
    assert text_two == expected_reply(second).text
    assert text_three.startswith("Turn 2. You said: and again")
    assert [turn.role for turn in history.turns] == ["user", "assistant", "user", "assistant"]
    assert history.turns[1].text == text_one and history.turns[3].text == text_three


@pytest.mark.parametrize("kill", ["delete_connection", "dropped_tcp"])
def test_connections_killed_mid_answer_at_random_points_give_exactly_the_uninterrupted_text(
    client, relay_gateway, management_client, kill
):
    text = f"survive {kill} {STREAM}"
    randomness = random.Random(f"{kill}-{os.getpid()}")
    changes: list[ConnectionState] = []

    async def scenario() -> tuple[Any, list[Any], int]:
        async with client(on_state=lambda change: changes.append(change.state)) as relay:
            answer = await relay.ask(text)
            events_task = asyncio.ensure_future(collect(answer))
            kills = 0
            for _ in range(3):
                await asyncio.sleep(randomness.uniform(0.05, 0.3))
                while relay.connection is None and not answer.finished:  # still reconnecting from the last kill
                    await asyncio.sleep(0.01)
                if answer.finished:
                    break
                if kill == "dropped_tcp":
                    drop_tcp(relay)
                else:
                    await asyncio.to_thread(delete_connection, relay_gateway, management_client, relay)
                kills += 1
            return await answer.result(), await events_task, kills

    result, events, kills = run(scenario())
    assert kills >= 1
    assert changes.count(ConnectionState.RECONNECTING) >= 1
    assert result.text == expected_reply(text).text
    assert "".join(event.text for event in events if isinstance(event, Text)) == result.text
    assert [event.seq for event in events] == list(range(len(events)))  # no duplicate, no gap
    assert isinstance(events[-1], Done) and events[-1].stop_reason == "end_turn"


def test_cancel_ends_the_answer_with_done_cancelled_and_keeps_the_text_so_far(client):
    text = "stop me [[sim tokens=3000 rate=100 ttft=0]]"

    async def scenario() -> tuple[Any, list[Any]]:
        async with client() as relay:
            answer = await relay.ask(text)
            async for event in answer:
                if isinstance(event, Text):
                    await answer.cancel()
                    break
            return await answer.result(), await collect(answer)

    result, events = run(scenario())
    assert result.stop_reason == "cancelled"
    assert expected_reply(text).text.startswith(result.text) and len(result.text) < len(expected_reply(text).text)
    assert isinstance(events[-1], Done)


def test_a_token_callable_is_called_again_on_every_reconnect(client, relay_gateway, user):
    minted: list[str] = []

    async def fresh_token() -> str:
        minted.append(relay_gateway.dev_issuer.mint(user, ttl=600 + len(minted)))  # a distinct token each time
        return minted[-1]

    text = f"fresh tokens {STREAM}"

    async def scenario() -> tuple[str, int]:
        async with client(token=fresh_token) as relay:
            answer = await relay.ask(text)
            await asyncio.sleep(0.2)
            drop_tcp(relay)
            return await answer.text(), relay.token_calls

    answer_text, calls = run(scenario())
    assert answer_text == expected_reply(text).text
    assert calls == len(minted) >= 2
    assert len(set(minted)) == len(minted)


def test_every_error_the_relay_produces_surfaces_typed(client, relay_gateway):
    async def failure(awaitable: Awaitable[Any]) -> RelayError:
        with pytest.raises(RelayError) as caught:
            await awaitable
        return caught.value

    async def scenario() -> dict[str, RelayError]:
        errors: dict[str, RelayError] = {}
        async with client() as relay:
            errors["max_tokens"] = await failure((await relay.ask("hi", max_tokens=0)).text())
            errors["temperature"] = await failure((await relay.ask("hi", temperature=3.5)).text())
            errors["model"] = await failure((await relay.ask("hi", model="no-such-model")).text())
            errors["conversation"] = await failure((await relay.ask("hi", conversation_id="nope")).text())
            errors["history"] = await failure(relay.history("no-such-conversation"))
            errors["throttled"] = await failure((await relay.ask("busy [[sim throttle ttft=0]]")).text())
            errors["model_error"] = await failure((await relay.ask(f"fail [[sim fail_after=2 {FAST[6:]}")).text())
            errors["unknown_action"] = await failure(relay._control({"action": "dance"}, "dance"))
            # Quotas: 2 answers in flight per user; the third is refused with a time to wait.
            slow = [await relay.ask(f"slow {n} [[sim tokens=5 ttft=5000]]") for n in range(2)]
            for answer in slow:  # both admitted (their start frames arrived) before the third is sent
                assert isinstance(await anext(aiter(answer)), Start)
            third = await relay.ask("one too many")
            errors["rate_limited"] = await failure(third.text())
            events = await collect(third)
            assert isinstance(events[-1], Error) and events[-1].code == "rate_limited"
            for answer in slow:
                await answer.cancel()
            assert [(await answer.result()).stop_reason for answer in slow] == ["cancelled", "cancelled"]
        async with client(token=relay_gateway.dev_issuer.mint("py-client-someone-else")) as other:
            theirs = await other.ask(f"mine {FAST}")
            await theirs.text()
        async with client() as relay:
            errors["forbidden"] = await failure(relay.history(theirs.conversation_id or ""))
        return errors

    errors = run(scenario())
    for name, field in (("max_tokens", "maxTokens"), ("temperature", "temperature"), ("model", "model")):
        assert isinstance(errors[name], BadRequestError), name
        assert (errors[name].code, errors[name].field, errors[name].retryable) == ("bad_request", field, False)
        assert errors[name].request_id
    assert isinstance(errors["conversation"], (NotFoundError, BadRequestError))
    assert errors["conversation"].field == "conversationId"
    assert isinstance(errors["history"], NotFoundError) and errors["history"].code == "not_found"
    assert isinstance(errors["throttled"], ThrottledError) and errors["throttled"].retryable
    assert isinstance(errors["model_error"], ModelError) and not errors["model_error"].retryable
    assert isinstance(errors["unknown_action"], UnknownActionError) and "sendtext" in errors["unknown_action"].actions
    limited = errors["rate_limited"]
    assert (
        isinstance(limited, RateLimitedError) and limited.retryable and limited.retry_after and limited.retry_after > 0
    )
    assert isinstance(errors["forbidden"], ForbiddenError)


def test_a_1009_close_fails_that_ask_and_the_message_is_never_sent_again(client):
    big = "é" * 20_000  # 40 KB of UTF-8: over the 32 KB frame limit when sent as one frame
    text = f"after the big one {FAST}"

    async def scenario() -> tuple[RelayError, str, RelayError]:
        async with client(max_frame_bytes=None) as relay:  # not split into parts: the gateway closes with 1009
            too_big = await relay.ask(big)
            with pytest.raises(MessageTooBigError) as caught:
                await too_big.text()
            answer = await relay.ask(text)  # the client reconnected by itself and never sent the big one again
            answer_text = await answer.text()
        async with client() as relay:
            with pytest.raises(MessageTooBigError) as refused:
                await relay.ask("x" * (MAX_PARTS + 1) * FRAME_BUDGET_BYTES)  # no split into 64 parts fits it
        return caught.value, answer_text, refused.value

    error, answer_text, refused = run(scenario())
    assert error.code == "message_too_big" and not error.retryable and "1009" in error.message
    assert answer_text == expected_reply(text).text
    assert refused.code == "message_too_big" and "64" in refused.message


# -- the terminal chat ---------------------------------------------------------------------------------------------


def chat(relay_gateway: GatewayHandle, user: str, *args: str, **options: Any) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "relay_client", "--url", relay_gateway.ws_url]
    command += ["--token", relay_gateway.dev_issuer.mint(user), *args]
    return subprocess.Popen(command, text=True, encoding="utf-8", **options)


def test_chat_one_shot_prints_the_answer_and_exits_0(relay_gateway, user):
    question = f"one shot {FAST}"
    process = chat(relay_gateway, user, question, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    assert out == expected_reply(question).text + "\n"


def test_chat_one_shot_survives_the_server_dropping_the_connection_without_losing_a_word(
    relay_gateway, management_client, user
):
    question = f"keep going {STREAM}"
    process = chat(relay_gateway, user, question, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        head = process.stdout.read(20)  # the answer is streaming
        api = management_client(relay_gateway)
        for connection in list(relay_gateway.gateway.registry):
            if user in (connection.peer.authorizer or {}).values():
                api.delete_connection(ConnectionId=connection.connection_id)
        out = process.stdout.read()  # not communicate(): it would skip what this file object buffered
        assert process.stderr is not None
        err = process.stderr.read()
        process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert head + out == expected_reply(question).text + "\n"
    assert "reconnecting" in err


def test_chat_one_shot_exits_non_zero_with_the_error_on_stderr(relay_gateway, user):
    process = chat(relay_gateway, user, "--max-tokens", "0", "too few", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1
    assert out == ""
    assert "bad_request" in err and "maxTokens" in err


def test_chat_json_mode_prints_the_frames(relay_gateway, user):
    import json

    question = f"frames please {FAST}"
    process = chat(relay_gateway, user, "--json", question, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err
    frames = [json.loads(line) for line in out.splitlines()]
    assert [frame["type"] for frame in (frames[0], frames[-1])] == ["start", "done"]
    assert (
        "".join(frame.get("text", "") for frame in frames if frame["type"] == "delta") == expected_reply(question).text
    )


def test_chat_interactive_keeps_the_conversation_and_ctrl_c_cancels_the_answer(relay_gateway, user):
    first, long, last = (
        f"my name is Ada {FAST}",
        "talk a lot [[sim tokens=3000 rate=100 ttft=0]]",
        "who am I [[sim tokens=40 rate=100000 ttft=0]]",
    )
    process = chat(relay_gateway, user, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    output: list[str] = []
    errors: list[str] = []
    readers = [
        threading.Thread(target=lambda: output.extend(iter(lambda: process.stdout.read(1), "")), daemon=True),
        threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()

    def wait_for(fragment: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while fragment not in "".join(output):
            assert time.monotonic() < deadline, f"{fragment!r} not in {''.join(output)!r}"
            time.sleep(0.02)

    try:
        process.stdin.write(first + "\n")
        process.stdin.flush()
        first_answer = expected_reply(first).text
        wait_for(first_answer)
        process.stdin.write(long + "\n")
        process.stdin.flush()
        wait_for("Turn 2. You said: talk a lot")
        process.send_signal(signal.SIGINT)  # Ctrl-C: cancels the answer in flight, the session goes on
        process.stdin.write(last + "\n")
        process.stdin.close()
        process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        for reader in readers:
            reader.join(TIMEOUT)
    err = "".join(errors)
    assert process.returncode == 0, err
    assert "[cancelled]" in err
    lines = "".join(output).splitlines()
    assert lines[0] == first_answer
    history = [("user", first), ("assistant", first_answer), ("user", long), ("assistant", lines[1]), ("user", last)]
    assert lines[2] == plan_reply(SimConversation.of(*history)).text  # turn 3 of the same conversation
    assert lines[2].startswith("Turn 3. You said: who am I")
    assert len(lines[1]) < len(expected_reply(long).text)
