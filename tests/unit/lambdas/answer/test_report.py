"""The per-answer figures: one EMF metrics blob and one structured log line, never any text."""

from __future__ import annotations

import json
import logging
import time

import pytest

from lambdas.answer.relay import Outcome
from lambdas.answer.report import report
from lambdas.delivery.engine import Delivery, DeliveryOptions
from tests.fakes import RecordingPoster


@pytest.fixture
def emitted(monkeypatch, capsys, caplog):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    caplog.set_level(logging.INFO, logger="ws-relay")

    def read() -> tuple[dict, dict]:
        blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        metrics = next(blob for blob in blobs if "_aws" in blob)
        record = next(record for record in caplog.records if record.getMessage() == "answer")
        return metrics, vars(record)

    return read


def test_an_answer_publishes_its_figures_as_emf_and_one_log_line(emitted):
    poster = RecordingPoster()
    delivery = Delivery(poster, "req-9", DeliveryOptions(coalesce_s=0))
    delivery.start("claude")
    delivery.text("a secret answer")
    delivery.finish(lambda seq: {"type": "done", "requestId": "req-9", "seq": seq})
    assert delivery.wait(timeout=5)
    started = time.monotonic() - 0.5
    outcome = Outcome(stop_reason="end_turn", input_tokens=3, output_tokens=4, first_token_at=started + 0.2)
    event = {"requestContext": {"connectionId": "conn-1"}}

    report(event, "claude", outcome, delivery, started)

    metrics, log = emitted()
    names = {metric["Name"] for metric in metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {
        "TimeToFirstToken",
        "TimeToFirstPost",
        "TotalTime",
        "OutputTokens",
        "Posts",
        "PostedBytes",
        "PostRetries",
        "ClientGone",
    } <= names
    assert metrics["model"] == "claude"
    assert metrics["OutputTokens"] in (4, [4.0], 4.0)
    assert log["posts"] == 3 and log["outputTokens"] == 4 and log["firstTokenMs"] >= 200
    assert "secret" not in json.dumps(log, default=str) and "secret" not in json.dumps(metrics)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (Outcome(stop_reason="end_turn"), "done"),
        (Outcome(status="error", error_code="model_error"), "model_error"),
        (Outcome(status="cancelled", stop_reason="cancelled"), "cancelled"),
        (Outcome(status="gone"), "gone"),
        (Outcome(stop_reason="time_limit"), "time_limit"),
    ],
)
def test_every_answer_is_counted_once_by_how_it_ended_and_over_all_models(emitted_blobs, outcome, expected):
    poster = RecordingPoster()
    delivery = Delivery(poster, "req-1", DeliveryOptions(coalesce_s=0))
    started = time.monotonic()

    report({"requestContext": {"connectionId": "c"}}, "claude", outcome, delivery, started)

    blobs = emitted_blobs()
    # The dashboard's endings graph: one AnswersEnded per answer, by ending.
    (ended,) = [blob for blob in blobs if "AnswersEnded" in blob]
    assert ended["ending"] == expected and "model" not in ended
    # The alarms' figures: the same answer without the model dimension (an alarm cannot add up per-model metrics).
    (totals,) = [blob for blob in blobs if "Answers" in blob and "model" not in blob]
    failed = expected not in ("done", "cancelled", "gone", "time_limit")
    assert totals["AnswerErrors"] in ([float(failed)], float(failed))
    assert totals["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


@pytest.fixture
def emitted_blobs(monkeypatch, capsys):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)

    def read() -> list[dict]:
        lines = capsys.readouterr().out.splitlines()
        return [json.loads(line) for line in lines if line.startswith("{") and '"_aws"' in line]

    return read
