"""OpenAI-compatible chat completions over real HTTP (a chunked SSE server on 127.0.0.1) with urllib3."""

from __future__ import annotations

import json
from contextlib import closing

import pytest
import urllib3

from lambdas.catalogue import ModelSpec
from lambdas.providers import api_keys
from lambdas.providers.base import Message, ModelRequest
from lambdas.providers.events import Start, TextDelta
from lambdas.providers.openai_chat import OpenAIChatProvider
from tests.fixtures.providers.support import (
    Reply,
    UpstreamServer,
    answer_of,
    expected_answer,
    fixture,
    fixture_names,
    line_body,
)

REQUEST = ModelRequest((Message("user", "Hi"),), max_tokens=64, system="Be brief.", temperature=0.5)
SSE = {"Content-Type": "text/event-stream"}


def _sse(*records: object, ending: str = "end") -> Reply:
    data = {"framing": "sse", "records": list(records)}
    return Reply(200, SSE, [line_body(data)], ending)


def _provider(server: UpstreamServer, key: str | None = None, **kwargs) -> OpenAIChatProvider:
    return OpenAIChatProvider(server.url + "/v1", "gpt-4o-mini", lambda: key, **kwargs)


@pytest.mark.parametrize("name", fixture_names("openai"))
@pytest.mark.parametrize("part_size", [1, 9, 100_000], ids=["byte-per-chunk", "9-bytes", "one-chunk"])
def test_fixture_over_http(name: str, part_size: int) -> None:
    data = fixture(name)
    body = line_body(data)
    reply = Reply(200, SSE, [body[i : i + part_size] for i in range(0, len(body), part_size)])
    with UpstreamServer(reply) as server:
        answer = answer_of(_provider(server).stream(REQUEST))
    assert answer == expected_answer(data)


def test_request_carries_the_body_and_the_bearer_key() -> None:
    with UpstreamServer(Reply(200, SSE, [line_body(fixture("openai"))])) as server:
        answer_of(_provider(server, key="sk-test-123").stream(REQUEST))
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test-123"
    assert request.json() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": True,
        "max_tokens": 64,
        "temperature": 0.5,
        "stream_options": {"include_usage": True},
    }


def test_no_key_no_authorization_header() -> None:
    with UpstreamServer(Reply(200, SSE, [line_body(fixture("openai"))])) as server:
        answer_of(_provider(server).stream(REQUEST))
    assert "Authorization" not in server.requests[0].headers


def test_stop_waits_for_the_usage_chunk_after_finish_reason() -> None:
    # GIVEN finish_reason arrives before the usage chunk
    data = fixture("openai")
    with UpstreamServer(Reply(200, SSE, [line_body(data)])) as server:
        answer = answer_of(_provider(server).stream(REQUEST))
    # THEN the Stop carries the usage that came after it
    assert (answer.stop.input_tokens, answer.stop.output_tokens) == (19, 4)


def _error(status: int, body: dict | str) -> Reply:
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    return Reply(status, {"Content-Type": "application/json"}, [raw])


HTTP_ERRORS = [
    pytest.param(
        _error(
            429,
            {
                "error": {
                    "message": "Rate limit reached for gpt-4o-mini",
                    "type": "requests",
                    "code": "rate_limit_exceeded",
                }
            },
        ),
        "throttled",
        "rate_limit_exceeded",
        "Rate limit reached for gpt-4o-mini",
        id="429-openai",
    ),
    pytest.param(
        _error(
            401,
            {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        ),
        "access_denied",
        "invalid_api_key",
        "Incorrect API key provided",
        id="401-bad-key",
    ),
    pytest.param(
        _error(
            403, {"error": {"message": "Project does not have access", "type": "invalid_request_error", "code": None}}
        ),
        "access_denied",
        "invalid_request_error",
        "Project does not have access",
        id="403-forbidden",
    ),
    pytest.param(
        _error(400, {"object": "error", "message": "max_tokens is too large", "type": "BadRequestError", "code": 400}),
        "validation",
        "BadRequestError",
        "max_tokens is too large",
        id="400-vllm",
    ),
    pytest.param(
        _error(404, {"error": 'model "llama9" not found, try pulling it first'}),
        "validation",
        "HTTP 404",
        'model "llama9" not found, try pulling it first',
        id="404-ollama",
    ),
    pytest.param(_error(502, "<html>Bad gateway</html>"), "unavailable", "HTTP 502", None, id="502-html"),
]


@pytest.mark.parametrize(("reply", "kind", "code", "message"), HTTP_ERRORS)
def test_http_errors(reply: Reply, kind: str, code: str, message: str | None) -> None:
    with UpstreamServer(reply) as server:
        answer = answer_of(_provider(server).stream(REQUEST))
    assert not answer.started
    assert answer.error == (kind, code)
    if message is not None:
        assert answer.error_message == message


def test_connection_dropped_mid_stream_is_unavailable() -> None:
    first = fixture("openai")["records"][:2]
    with UpstreamServer(_sse(*first, ending="drop")) as server:
        answer = answer_of(_provider(server).stream(REQUEST))
    assert (answer.text, answer.error[0]) == ("Hello", "unavailable")


def test_stream_closed_before_finish_is_unavailable() -> None:
    with UpstreamServer(_sse(*fixture("openai")["records"][:2])) as server:
        answer = answer_of(_provider(server).stream(REQUEST))
    assert answer.error == ("unavailable", None)


def test_stream_closed_after_finish_without_done_still_stops() -> None:
    with UpstreamServer(_sse(*fixture("openai")["records"][:-1])) as server:
        answer = answer_of(_provider(server).stream(REQUEST))
    assert (answer.text, answer.stop.reason, answer.stop.output_tokens) == ("Hello 👋 world", "end_turn", 4)


def test_connection_refused_is_unavailable() -> None:
    with UpstreamServer(Reply()) as server:
        url = server.url
    answer = answer_of(OpenAIChatProvider(url, "m").stream(REQUEST))
    assert (answer.started, answer.error[0]) == (False, "unavailable")


def test_read_timeout_is_unavailable() -> None:
    first = fixture("openai")["records"][:2]
    with UpstreamServer(_sse(*first, ending="hold")) as server:
        provider = _provider(server, timeout=urllib3.Timeout(connect=2, read=0.3))
        answer = answer_of(provider.stream(REQUEST))
    assert (answer.text, answer.error[0]) == ("Hello", "unavailable")


def test_closing_the_generator_closes_the_upstream_connection() -> None:
    with UpstreamServer(_sse(*fixture("openai")["records"][:2], ending="hold")) as server:
        with closing(_provider(server).stream(REQUEST)) as events:
            assert isinstance(next(events), Start)
            assert next(events) == TextDelta("Hello")
        assert server.client_closed_early.wait(timeout=10)


def test_a_line_over_the_limit_is_an_error() -> None:
    with UpstreamServer(Reply(200, SSE, [b"data: " + b"x" * 5000], "end")) as server:
        answer = answer_of(_provider(server, max_line_bytes=1024).stream(REQUEST))
    assert answer.error == ("internal", "LineTooLong")


def test_undecodable_event_is_internal() -> None:
    with UpstreamServer(_sse("{not json")) as server:
        answer = answer_of(_provider(server).stream(REQUEST))
    assert answer.error[0] == "internal"


# --- API keys ------------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_keys():
    api_keys.clear_cache()
    yield
    api_keys.clear_cache()


def _spec(**kwargs) -> ModelSpec:
    return ModelSpec(alias="gpt", provider="openai", base_url="http://127.0.0.1:1/v1", model="m", **kwargs)


def test_key_from_environment_variable(fresh_keys, monkeypatch) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", " sk-env ")
    assert api_keys.api_key(_spec(api_key_env="TEST_OPENAI_KEY")) == "sk-env"


def test_missing_environment_key_is_an_access_denied_event_naming_the_variable(fresh_keys, monkeypatch) -> None:
    monkeypatch.delenv("TEST_OPENAI_KEY", raising=False)
    provider = OpenAIChatProvider(
        "http://127.0.0.1:1/v1", "m", lambda: api_keys.api_key(_spec(api_key_env="TEST_OPENAI_KEY"))
    )
    answer = answer_of(provider.stream(REQUEST))
    assert answer.error[0] == "access_denied"
    assert "$TEST_OPENAI_KEY" in answer.error_message


def test_no_key_source_means_no_key(fresh_keys) -> None:
    assert api_keys.api_key(_spec()) is None


@pytest.fixture
def aws(monkeypatch):
    moto = pytest.importorskip("moto")
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SSM", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    from lambdas import clients

    with moto.mock_aws():
        clients.secretsmanager.cache_clear()
        clients.ssm.cache_clear()
        yield
    clients.secretsmanager.cache_clear()
    clients.ssm.cache_clear()


def test_key_from_secrets_manager_is_read_once(fresh_keys, aws) -> None:
    from lambdas import clients

    arn = clients.secretsmanager().create_secret(Name="relay/openai", SecretString="sk-secret")["ARN"]
    spec = _spec(api_key_secret_arn=arn)
    assert api_keys.api_key(spec) == "sk-secret"
    # A rotation is seen only by new execution environments: the key is cached.
    clients.secretsmanager().put_secret_value(SecretId=arn, SecretString="sk-rotated")
    assert api_keys.api_key(spec) == "sk-secret"


def test_key_from_a_json_secret(fresh_keys, aws) -> None:
    from lambdas import clients

    arn = clients.secretsmanager().create_secret(Name="relay/json", SecretString='{"apiKey": "sk-json"}')["ARN"]
    assert api_keys.api_key(_spec(api_key_secret_arn=arn)) == "sk-json"


def test_key_from_ssm_secure_string(fresh_keys, aws) -> None:
    from lambdas import clients

    clients.ssm().put_parameter(Name="/relay/openai-key", Value="sk-param", Type="SecureString")
    assert api_keys.api_key(_spec(api_key_parameter="/relay/openai-key")) == "sk-param"


def test_unreadable_secret_is_access_denied_without_the_key_in_the_message(fresh_keys, aws) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    with pytest.raises(api_keys.ApiKeyError) as caught:
        api_keys.api_key(_spec(api_key_secret_arn=arn))
    assert caught.value.error.kind == "access_denied"
    assert "'gpt'" in caught.value.error.message
