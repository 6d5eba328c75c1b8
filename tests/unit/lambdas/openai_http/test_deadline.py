"""The time guard's clock: the Lambda Web Adapter's deadline in the Lambda, the function timeout elsewhere."""

from __future__ import annotations

import json
import time

from aiohttp.test_utils import make_mocked_request

from lambdas.openai_http.app import LAMBDA_CONTEXT_HEADER, AppOptions, _Api


def remaining_ms(options: AppOptions, headers: dict[str, str]) -> int:
    request = make_mocked_request("POST", "/v1/chat/completions", headers=headers)
    return _Api(options)._remaining_ms(request, time.monotonic())()


def test_in_the_lambda_the_adapters_deadline_counts() -> None:
    deadline = int(time.time() * 1000) + 7_000
    header = {LAMBDA_CONTEXT_HEADER: json.dumps({"request_id": "r", "deadline": deadline})}
    left = remaining_ms(AppOptions(timeout_s=300, trust_lambda_context=True), header)
    assert 5_000 < left <= 7_000


def test_without_a_usable_deadline_the_function_timeout_counts_from_arrival() -> None:
    for headers in ({}, {LAMBDA_CONTEXT_HEADER: "not json"}, {LAMBDA_CONTEXT_HEADER: json.dumps({"deadline": None})}):
        left = remaining_ms(AppOptions(timeout_s=60, trust_lambda_context=True), headers)
        assert 55_000 < left <= 60_000


def test_outside_the_lambda_a_client_cannot_set_its_own_deadline() -> None:
    header = {LAMBDA_CONTEXT_HEADER: json.dumps({"deadline": int(time.time() * 1000) + 10**9})}
    left = remaining_ms(AppOptions(timeout_s=60, trust_lambda_context=False), header)
    assert left <= 60_000
