"""The daily output-token quota charges what was generated, also when the model did not count it (issue 13.1).

The model's own count is used whenever it reports one; otherwise the relay estimates from the generated text
(one token per 3 characters, rounded up) and `done.usage.estimated` names the estimated counts.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from tests.e2e.client import answer_text, ask, collect, recv, send
from tests.e2e.lambdas.test_lifecycle import wait_for_record

SLOW = "[[sim tokens=600 rate=150 ttft=0]]"


def tokens_today(relay_gateway, user: str) -> int:
    gateway = relay_gateway.gateway
    item = (
        gateway.dynamodb.client()
        .get_item(
            TableName=gateway.table_name,
            Key={"pk": {"S": f"USER#{user}"}, "sk": {"S": f"TOKENS#{datetime.now(UTC):%Y-%m-%d}"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return int(item["outputTokens"]["N"]) if item else 0


def estimate(text: str) -> int:
    return math.ceil(len(text) / 3)


def test_a_model_that_reports_no_usage_is_charged_an_estimate(connect, relay_gateway):
    # The older LMI jsonlines format carries text only: no token counts at all.
    frames = ask(connect("usage-lmi"), "no usage here [[sim tokens=30 rate=5000 ttft=0]]", model="sm-lmi-outputs")
    done = frames[-1]
    assert done["type"] == "done"
    assert done["usage"]["estimated"] == ["outputTokens"]
    assert done["usage"]["outputTokens"] == estimate(answer_text(frames)) > 0
    assert tokens_today(relay_gateway, "usage-lmi") == done["usage"]["outputTokens"]


def test_an_answer_cancelled_before_the_models_usage_is_charged_for_what_it_streamed(connect, relay_gateway):
    ws = connect("usage-cancel")
    send(ws, {"action": "sendtext", "text": f"stop me {SLOW}", "requestId": "usage-c1"})
    first = [recv(ws), recv(ws)]
    send(ws, {"action": "cancel", "requestId": "usage-c1"})
    frames = first + collect(ws)
    done = frames[-1]
    assert done["stopReason"] == "cancelled"
    assert done["usage"]["estimated"] == ["outputTokens"]
    assert done["usage"]["outputTokens"] == estimate(answer_text(frames)) > 0
    assert tokens_today(relay_gateway, "usage-cancel") == done["usage"]["outputTokens"]


def test_an_answer_ended_by_a_model_error_is_charged_for_what_it_streamed(connect, relay_gateway):
    frames = ask(connect("usage-error"), "fail soon [[sim fail_after=3 rate=5000 ttft=0]]")
    assert (frames[-1]["type"], frames[-1]["code"]) == ("error", "model_error")
    assert tokens_today(relay_gateway, "usage-error") == estimate(answer_text(frames)) > 0


def test_an_answer_ended_by_a_lost_connection_is_charged_for_what_it_generated(connect, relay_gateway, relay_env):
    relay_env(RELAY_GONE_GRACE_SECONDS="0.3")
    ws = connect("usage-gone")
    send(ws, {"action": "sendtext", "text": f"usage-gone {SLOW}"})
    assert recv(ws)["type"] == "start"
    assert recv(ws)["type"] == "delta"
    ws.close()
    wait_for_record(relay_gateway.url, "usage-gone", lambda record: record["outcome"] != "running")
    deadline = time.monotonic() + 10
    while tokens_today(relay_gateway, "usage-gone") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tokens_today(relay_gateway, "usage-gone") > 0
