"""The functions' tuning: every knob of lambdas.config.TUNABLES is a context key that reaches the functions."""

from __future__ import annotations

import pytest

from lambdas.config import TUNABLES
from stacks.config import ConfigError, RelayConfig, load_config
from tests.stack.template_queries import function_by_handler


def test_defaults_reach_the_function_environment_unchanged():
    environment = load_config().function_environment("table")
    for tunable in TUNABLES:
        assert environment[tunable.env] == str(tunable.default)


def test_a_context_override_reaches_the_function_environment():
    config = RelayConfig.from_context({"goneGraceSeconds": "2.5", "coalesceMs": "20", "historyMaxChars": "1000"})
    environment = config.function_environment("table")
    assert environment["RELAY_GONE_GRACE_SECONDS"] == "2.5"
    assert environment["RELAY_COALESCE_MS"] == "20"
    assert environment["RELAY_HISTORY_MAX_CHARS"] == "1000"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("coalesceMs", "5000"),
        ("postMaxAttempts", "0"),
        ("goneGraceSeconds", "-1"),
        ("controlPollMs", "1"),
        ("sseKeepaliveSeconds", "300"),  # API Gateway would close the idle stream before the first keep-alive
    ],
)
def test_an_out_of_range_value_names_its_key(key, value):
    with pytest.raises(ConfigError, match=key):
        RelayConfig.from_context({key: value})


def test_the_time_guard_must_leave_the_answer_time_to_run():
    with pytest.raises(ConfigError, match="timeGuardMs"):
        RelayConfig.from_context({"timeGuardMs": "40000", "sendTextTimeoutSeconds": "60"})


def test_the_streaming_function_gets_the_tuning_in_the_template(overridden_synth):
    _, props = function_by_handler(overridden_synth.json, "lambdas.handlers.sendtext.handler")
    variables = props["Environment"]["Variables"]
    for tunable in TUNABLES:
        assert variables[tunable.env] == str(getattr(overridden_synth.config, tunable.name))
