"""What a user notices around an answer: leaving mid-answer, the Lambda time guard, many clients at once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from tests.e2e.client import answer_text, ask, expected_reply, recv, send, simulator_records
from tests.fakes import assert_well_formed


def wait_for_record(base_url: str, marker: str, predicate, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in simulator_records(base_url):
            if marker in (record["last_user_text"] or "") and predicate(record):
                return record
        time.sleep(0.05)
    raise AssertionError(f"no simulator record for {marker!r} matched within {timeout} s")


def test_when_the_client_leaves_the_upstream_is_closed_after_the_grace_period(connect, relay_gateway, relay_env):
    relay_env(RELAY_GONE_GRACE_SECONDS="0.5")
    ws = connect()
    send(ws, {"action": "sendtext", "text": "leaving-early [[sim tokens=3000 rate=200 ttft=0]]"})
    assert recv(ws)["type"] == "start"
    assert recv(ws)["type"] == "delta"
    ws.close()

    record = wait_for_record(relay_gateway.url, "leaving-early", lambda r: r["outcome"] != "running")
    # The relay hung up on the model long before its 3000 words (15 s at 200/s) were generated.
    assert record["outcome"] == "client_closed"
    assert record["chunks_sent"] < record["chunks_planned"] / 2


def test_zero_grace_hangs_up_on_the_model_at_once(connect, relay_gateway, relay_env):
    relay_env(RELAY_GONE_GRACE_SECONDS="0")
    ws = connect()
    send(ws, {"action": "sendtext", "text": "no-grace [[sim tokens=3000 rate=200 ttft=0]]"})
    assert recv(ws)["type"] == "start"
    ws.close()
    record = wait_for_record(relay_gateway.url, "no-grace", lambda r: r["outcome"] != "running")
    assert record["outcome"] == "client_closed"


def test_near_the_lambda_timeout_the_answer_ends_with_time_limit_not_silence(start_gateway, ws_connect):
    handle = start_gateway(
        dynamodb=True, mount_simulator=True, streaming_timeout_seconds=3, context_overrides={"timeGuardMs": 1500}
    )
    ws = ws_connect(handle.ws_url)
    text = "long-answer [[sim tokens=5000 rate=100 ttft=0]]"
    send(ws, {"action": "sendtext", "text": text})
    frames = [recv(ws)]
    while frames[-1]["type"] not in ("done", "error"):
        frames.append(recv(ws))
    assert frames[-1]["type"] == "done"
    assert frames[-1]["stopReason"] == "time_limit"
    delivered = answer_text(frames)
    assert delivered and expected_reply(text).text.startswith(delivered)
    assert_well_formed(frames, frames[0]["requestId"])
    record = wait_for_record(handle.url, "long-answer", lambda r: r["outcome"] != "running")
    assert record["outcome"] == "client_closed"  # the relay closed the model's stream: no more billed tokens


def test_fifty_clients_at_once_each_get_their_complete_ordered_answer(connect):
    def one_client(index: int) -> tuple[str, list[dict]]:
        ws = connect()
        text = f"client {index} [[sim tokens=80 rate=400 ttft=50]]"
        return text, ask(ws, text, requestId=f"c{index}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one_client, range(50)))
    for index, (text, frames) in enumerate(results):
        assert answer_text(frames) == expected_reply(text).text
        assert frames[-1]["type"] == "done"
        assert_well_formed(frames, f"c{index}")
