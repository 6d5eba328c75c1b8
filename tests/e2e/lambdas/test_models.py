"""Every model alias `make dev` configures (localgw/local_catalogue.py), end to end: a real `websockets` client with a
dev issuer token, the real authorizer and handlers, and the simulator speaking each provider's own wire format.

The simulator's reply depends only on the conversation, never on the format that carries it, so one request must
give the same text, usage and stop reason through every alias, equal to `plan_reply` (docs/simulator.md) — except
where a format cannot carry something (documented in docs/localgw.md, "Models you can try locally").

Every (scenario, alias) request runs once, concurrently, each on its own connection and as its own user (the
per-user in-flight quota is 2); the parametrized tests then read the answers.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from lambdas import env_vars
from lambdas.answer.relay import estimate_tokens
from lambdas.catalogue import parse_catalogue, to_env_value
from localgw.environment import handler_environment
from localgw.local_catalogue import (
    DEFAULT_ALIAS,
    DUMMY_OPENAI_KEY,
    OPENAI_KEY_ENV,
    banner_line,
    catalogue_environment,
    local_catalogue,
)
from localgw.options import GatewayOptions
from localgw.simulator import REQUESTS_PATH, ReplyPlan, SimConversation, plan_reply
from stacks.config import load_config
from tests.conftest import RECV_TIMEOUT

# The documented alias table (docs/localgw.md): alias → provider, in the order `models` lists them.
PROVIDERS = {
    "claude": "bedrock",
    "converse": "bedrock-converse",
    "claude-v2": "bedrock",
    "llama": "bedrock",
    "mistral": "bedrock",
    "titan": "bedrock",
    "nova": "bedrock",
    "command-r": "bedrock",
    "sm-lmi": "sagemaker",
    "sm-lmi-outputs": "sagemaker",
    "sm-tgi": "sagemaker",
    "openai": "openai",
}
ALIASES = list(PROVIDERS)

FAST = "rate=100000 ttft=0"
TEXT = f"Compare rivers [[sim tokens=40 {FAST}]]"
SYSTEM = "Answer like a geographer."
CAP = 10
SCENARIOS: dict[str, dict[str, Any]] = {
    "plain": {"text": TEXT},
    "system": {"text": TEXT, "system": SYSTEM},
    "capped": {"text": TEXT, "maxTokens": CAP},
    # Bare `throttle` refuses every attempt: botocore's own retries (lambdas/clients.py) cannot get through.
    "throttle": {"text": f"Compare rivers [[sim tokens=40 {FAST} throttle]]"},
    "fail_after": {"text": f"Compare rivers [[sim tokens=40 {FAST} fail_after=2]]"},
    "bad_directive": {"text": "Compare rivers [[sim tokens=lots]]"},
}
REFUSAL_ATTEMPTS = 3
# Throttled requests wait out botocore's backoff (up to ~7 s) before their error frame.
FRAME_TIMEOUT = 30.0

# Templates without a system role put the system text in the first user turn (docs/simulator.md).
SYSTEM_IN_USER_TURN = {"mistral", "sm-tgi"}


@dataclass
class Answer:
    frames: list[dict[str, Any]] = field(default_factory=list)
    """Every frame up to and including the first terminal one (or the refusal)."""
    after_terminal: list[dict[str, Any]] = field(default_factory=list)
    """Frames that arrived after it, before the reply to a `models` request sent next: must be none."""

    @property
    def start(self) -> dict[str, Any]:
        return self.frames[0]

    @property
    def terminal(self) -> dict[str, Any]:
        return self.frames[-1]

    @property
    def text(self) -> str:
        return "".join(frame["text"] for frame in self.frames if frame["type"] == "delta")


def _open(gateway: Any, user: str) -> ClientConnection:
    token = gateway.dev_issuer.mint(user) if gateway.dev_issuer else None
    target = f"{gateway.ws_url}?token={token}" if token else gateway.ws_url
    return connect(target, open_timeout=RECV_TIMEOUT, close_timeout=RECV_TIMEOUT)


def _receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=FRAME_TIMEOUT))


def _exchange(gateway: Any, user: str, message: dict[str, Any]) -> Answer:
    with _open(gateway, user) as ws:
        for attempt in range(REFUSAL_ATTEMPTS):
            answer = Answer()
            ws.send(json.dumps({"action": "sendtext", **message}))
            while not answer.frames or answer.terminal["type"] not in ("done", "error"):
                answer.frames.append(_receive(ws))
            # A retryable refusal (no `seq`: nothing was accepted) is the relay's own table being slow on a loaded
            # machine, not the model path under test: retry it as a client would.
            refused = "seq" not in answer.terminal and answer.terminal.get("retryable")
            if not refused or attempt == REFUSAL_ATTEMPTS - 1:
                break
            time.sleep(0.2 * (attempt + 1))
        # Anything the answer posted after its terminal frame arrives before the reply to this.
        ws.send(json.dumps({"action": "models"}))
        while (frame := _receive(ws))["type"] != "models":
            answer.after_terminal.append(frame)
    return answer


def _safely(gateway: Any, user: str, message: dict[str, Any]) -> Answer | Exception:
    try:
        return _exchange(gateway, user, message)
    except Exception as exc:  # kept for the one test that reads this answer
        return exc


@pytest.fixture(scope="module")
def answers(_relay_gateway_session) -> Iterator[dict[tuple[str, str | None], Answer | Exception]]:
    # Module-scoped, so on the session gateway itself; like the `relay_gateway` fixture, make sure the relay's
    # table exists (a unit test's mock_aws() exit wipes moto's data).
    relay_gateway = _relay_gateway_session
    if relay_gateway.gateway.dynamodb is not None:
        relay_gateway.gateway.dynamodb.create_table(relay_gateway.gateway.table_name)
    jobs: dict[tuple[str, str | None], dict[str, Any]] = {}
    for scenario, message in SCENARIOS.items():
        for alias in ALIASES:
            jobs[(scenario, alias)] = {**message, "model": alias, "requestId": f"m-{scenario}-{alias}"}
    jobs[("plain", None)] = {"text": TEXT, "requestId": "m-plain-default"}
    jobs[("unknown", None)] = {"text": TEXT, "model": "no-such-model", "requestId": "m-unknown-alias"}
    with ThreadPoolExecutor(max_workers=12) as pool:
        futures = {
            key: pool.submit(_safely, relay_gateway, f"models-{key[0]}-{key[1] or 'none'}", message)
            for key, message in jobs.items()
        }
        results = {key: future.result() for key, future in futures.items()}
    yield results
    # The session's simulator log is shared: leave it without this module's refused requests (a request refused
    # for its directive has no `last_user_text`).
    clear = urllib.request.Request(relay_gateway.url + REQUESTS_PATH, method="DELETE")
    with urllib.request.urlopen(clear, timeout=RECV_TIMEOUT):
        pass


def _answer(answers: dict[tuple[str, str | None], Answer | Exception], scenario: str, alias: str | None) -> Answer:
    answer = answers[(scenario, alias)]
    if isinstance(answer, Exception):
        raise answer
    return answer


def _assert_one_answer(answer: Answer, alias: str) -> None:
    """Protocol v1: seq 0, 1, 2, ... with no gap, the start frame names the alias, one terminal frame, last."""
    assert all("seq" in frame for frame in answer.frames), f"refused instead of answered: {answer.frames}"
    request_id = answer.start["requestId"]
    assert [frame["seq"] for frame in answer.frames] == list(range(len(answer.frames)))
    assert {frame["requestId"] for frame in answer.frames} == {request_id}
    assert (answer.start["type"], answer.start["seq"], answer.start["model"]) == ("start", 0, alias)
    assert [frame["type"] for frame in answer.frames[1:-1]] == ["delta"] * (len(answer.frames) - 2)
    assert answer.terminal["type"] in ("done", "error")
    assert answer.after_terminal == []


def _plan(text: str = TEXT, *, max_tokens: int | None = None) -> ReplyPlan:
    return plan_reply(SimConversation.of(("user", text), max_tokens=max_tokens or load_config().max_tokens_default))


def _usage(alias: str, plan: ReplyPlan) -> dict[str, Any]:
    """The usage each format can report: LMI gives generated tokens only, older LMI nothing at all (the relay then
    estimates the output tokens from the text, and says so)."""
    if alias == "sm-lmi-outputs":
        return {"inputTokens": None, "outputTokens": estimate_tokens(len(plan.text)), "estimated": ["outputTokens"]}
    if alias == "sm-lmi":
        return {"inputTokens": None, "outputTokens": plan.output_tokens}
    return {"inputTokens": plan.input_tokens, "outputTokens": plan.output_tokens}


by_alias = pytest.mark.parametrize("alias", ALIASES)


# -- listing --


def test_models_lists_every_alias_with_its_provider_and_one_default(relay_gateway) -> None:
    with _open(relay_gateway, "models-list") as ws:
        ws.send(json.dumps({"action": "models"}))
        frame = _receive(ws)

    assert frame["type"] == "models"
    assert {entry["id"]: entry["provider"] for entry in frame["models"]} == PROVIDERS
    assert [entry["id"] for entry in frame["models"]] == ALIASES
    assert [entry["id"] for entry in frame["models"] if entry["default"]] == [DEFAULT_ALIAS]
    # The start banner's line is built from the same catalogue.
    assert relay_gateway.gateway.models is not None
    assert relay_gateway.gateway.models.aliases == ALIASES


# -- the same answer through every format --


@by_alias
def test_every_alias_streams_the_simulators_reply(answers, alias: str) -> None:
    answer = _answer(answers, "plain", alias)
    plan = _plan()

    _assert_one_answer(answer, alias)
    assert answer.terminal["type"] == "done", answer.terminal
    assert answer.text == plan.text
    assert answer.terminal["stopReason"] == "end_turn"
    assert answer.terminal["usage"] == _usage(alias, plan)


def test_every_alias_gives_the_same_text_usage_and_stop_reason(answers) -> None:
    plain = {alias: _answer(answers, "plain", alias) for alias in ALIASES}
    assert {alias: answer.terminal["type"] for alias, answer in plain.items()} == dict.fromkeys(ALIASES, "done")
    assert len({answer.text for answer in plain.values()}) == 1
    assert {answer.terminal.get("stopReason") for answer in plain.values()} == {"end_turn"}
    # Formats that report both counts report the same ones.
    full = {
        json.dumps(answer.terminal["usage"], sort_keys=True)
        for alias, answer in plain.items()
        if alias not in ("sm-lmi", "sm-lmi-outputs")
    }
    assert len(full) == 1


def test_no_model_means_the_default_alias(answers) -> None:
    answer = _answer(answers, "plain", None)

    _assert_one_answer(answer, DEFAULT_ALIAS)
    assert answer.terminal["type"] == "done", answer.terminal
    assert answer.text == _plan().text


@by_alias
def test_a_system_prompt_does_not_change_the_reply(answers, alias: str) -> None:
    answer = _answer(answers, "system", alias)
    # Mistral's template has no system turn: the system text leads the user's, and the simulator echoes it.
    plan = _plan(f"{SYSTEM}\n\n{TEXT}") if alias in SYSTEM_IN_USER_TURN else _plan()

    _assert_one_answer(answer, alias)
    assert answer.terminal["type"] == "done", answer.terminal
    assert answer.text == plan.text
    assert answer.terminal["usage"] == _usage(alias, plan)


@by_alias
def test_max_tokens_cuts_the_reply(answers, alias: str) -> None:
    answer = _answer(answers, "capped", alias)
    plan = _plan(max_tokens=CAP)

    _assert_one_answer(answer, alias)
    assert answer.terminal["type"] == "done", answer.terminal
    assert len(answer.text.split()) == CAP
    assert answer.text == plan.text
    # The older LMI format carries no stop reason at all: a cut answer still reads as a complete one.
    assert answer.terminal["stopReason"] == ("end_turn" if alias == "sm-lmi-outputs" else "max_tokens")
    assert answer.terminal["usage"] == _usage(alias, plan)


# -- upstream errors, in each format's own shape, mapped to one error frame --


@by_alias
def test_upstream_throttling_is_a_retryable_throttled_error(answers, alias: str) -> None:
    answer = _answer(answers, "throttle", alias)

    _assert_one_answer(answer, alias)
    assert [frame["type"] for frame in answer.frames] == ["start", "error"]
    assert answer.terminal["code"] == "throttled"
    assert answer.terminal["retryable"] is True


@by_alias
def test_a_mid_stream_failure_keeps_the_text_then_ends_in_model_error(answers, alias: str) -> None:
    answer = _answer(answers, "fail_after", alias)
    plan = plan_reply(SimConversation.of(("user", SCENARIOS["fail_after"]["text"])))

    _assert_one_answer(answer, alias)
    assert answer.text == plan.sent_text != ""
    assert len(answer.text.split()) == sum(chunk.words for chunk in plan.chunks[:2])
    assert answer.terminal["code"] == "model_error"
    assert answer.terminal["retryable"] is False


# Bedrock and OpenAI-compatible servers refuse a bad body with a validation error (400); SageMaker relays the
# container's refusal as ModelError (424) with OriginalStatusCode 400, which the relay also reads as bad_request.
MALFORMED_CODES = {
    "bedrock": "bad_request",
    "bedrock-converse": "bad_request",
    "sagemaker": "bad_request",
    "openai": "bad_request",
}


@by_alias
def test_a_malformed_directive_is_refused_with_the_formats_error(answers, alias: str) -> None:
    answer = _answer(answers, "bad_directive", alias)

    _assert_one_answer(answer, alias)
    assert [frame["type"] for frame in answer.frames] == ["start", "error"]
    assert answer.terminal["code"] == MALFORMED_CODES[PROVIDERS[alias]]
    assert answer.terminal["retryable"] is False
    if answer.terminal["code"] == "bad_request":
        # The upstream's reason reaches the client: it names the bad directive.
        assert "tokens=lots" in answer.terminal["message"]


def test_an_unknown_alias_is_refused_naming_the_available_ones(answers) -> None:
    answer = _answer(answers, "unknown", None)

    assert len(answer.frames) == 1 and answer.after_terminal == []
    refusal = answer.terminal
    assert (refusal["type"], refusal["code"], refusal["field"]) == ("error", "bad_request", "model")
    assert refusal["requestId"] == "m-unknown-alias" and "seq" not in refusal
    assert "no-such-model" in refusal["message"]
    assert all(alias in refusal["message"] for alias in ALIASES)


# -- which catalogue localgw serves --


def _handler_env(upstream: str = "simulated", current: dict[str, str] | None = None, **context: Any) -> dict[str, str]:
    return handler_environment(
        config=load_config(context),
        options=GatewayOptions(upstream=upstream),  # type: ignore[arg-type]
        region="us-east-1",
        table_name="WsRelay-local",
        gateway_url="http://127.0.0.1:8080",
        stage="dev",
        dynamodb_url=None,
        current=current or {},
    )


def test_the_simulated_upstream_gets_the_local_catalogue_and_a_dummy_openai_key() -> None:
    env = _handler_env()
    catalogue = parse_catalogue(env[env_vars.MODELS])

    assert catalogue.aliases == ALIASES and catalogue.default == DEFAULT_ALIAS
    assert catalogue.models[DEFAULT_ALIAS].model_id == load_config().model_id  # the stack's own model
    assert catalogue.models["openai"].base_url == "http://127.0.0.1:8080/openai/v1"
    assert env[OPENAI_KEY_ENV] == DUMMY_OPENAI_KEY
    assert _handler_env(current={OPENAI_KEY_ENV: "mine"}).get(OPENAI_KEY_ENV) is None  # yours is kept


def test_real_bedrock_serves_the_catalogue_you_would_deploy() -> None:
    env = _handler_env("bedrock")

    assert env[env_vars.MODELS] == load_config().function_environment("WsRelay-local")[env_vars.MODELS]
    assert OPENAI_KEY_ENV not in env


def test_your_own_catalogue_wins_and_an_empty_one_brings_the_local_one_back() -> None:
    own = {
        "default": "mine",
        "models": {"mine": {"provider": "bedrock", "modelId": "us.meta.llama3-3-70b-instruct-v1:0"}},
    }

    assert _handler_env(models=json.dumps(own))[env_vars.MODELS] == to_env_value(own)
    assert parse_catalogue(_handler_env(models="")[env_vars.MODELS]).aliases == ALIASES


def test_the_banner_line_lists_the_aliases_and_how_to_ask_for_them() -> None:
    line = banner_line(local_catalogue("http://127.0.0.1:8080", load_config().model_id))

    assert line.startswith(f"{DEFAULT_ALIAS} (default), converse,")
    assert all(alias in line for alias in ALIASES)
    assert '{"action": "models"}' in line
    assert catalogue_environment(load_config(), upstream="bedrock", gateway_url="http://x", current={}) == {}
