"""Authentication at $connect, identity from the authorizer only, and per-user quotas — end to end."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import InvalidStatus

from lambdas.auth.verifier import MAX_TOKEN_CHARS
from tests.e2e.client import ask, recv, send


def test_a_connection_without_a_token_is_refused(relay_gateway, ws_connect):
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(relay_gateway.ws_url)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "claims",
    [{"aud": "someone-else"}, {"iss": "https://evil.example.com"}, {"exp": 1_000_000_000}],
    ids=["wrong-audience", "wrong-issuer", "expired"],
)
def test_a_token_the_authorizer_rejects_is_refused(relay_gateway, ws_connect, claims):
    token = relay_gateway.dev_issuer.mint("mallory", **claims)
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(relay_gateway.ws_url, query=f"token={token}")
    assert refused.value.response.status_code == 403


def test_a_tampered_token_is_refused(relay_gateway, ws_connect):
    header, payload, signature = relay_gateway.dev_issuer.mint("mallory").split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(InvalidStatus):
        ws_connect(relay_gateway.ws_url, query=f"token={forged}")


def test_a_bearer_header_works_like_the_query_token(relay_gateway, ws_connect):
    token = relay_gateway.dev_issuer.mint("header-user")
    ws = ws_connect(relay_gateway.ws_url, headers={"Authorization": f"Bearer {token}"})
    assert ask(ws, "hi [[sim tokens=5 rate=5000 ttft=0]]")[-1]["type"] == "done"


def test_the_authorizers_identity_reaches_the_stored_connection(relay_gateway, connect):
    ask(connect("identity-check"), "hi [[sim tokens=5 rate=5000 ttft=0]]")
    gateway = relay_gateway.gateway
    items = gateway.dynamodb.client().scan(TableName=gateway.table_name)["Items"]
    users = {item["userId"]["S"] for item in items if "userId" in item and item["sk"]["S"] == "META"}
    assert "identity-check" in users


def test_a_third_answer_in_flight_for_one_user_is_rate_limited(connect):
    slow = "[[sim tokens=400 rate=100 ttft=0]]"
    sockets = [connect("busy-user") for _ in range(3)]
    for index, ws in enumerate(sockets[:2]):
        send(ws, {"action": "sendtext", "text": f"slow {index} {slow}"})
        assert recv(ws)["type"] == "start"
    send(sockets[2], {"action": "sendtext", "text": "one too many", "requestId": "third"})
    refusal = recv(sockets[2])
    assert (refusal["type"], refusal["code"], refusal["retryable"]) == ("error", "rate_limited", True)
    assert refusal["retryAfter"] >= 1
    assert refusal["requestId"] == "third"


def test_another_user_is_not_limited_by_a_busy_user(connect):
    slow = "[[sim tokens=400 rate=100 ttft=0]]"
    busy = [connect("busy-neighbour") for _ in range(2)]
    for ws in busy:
        send(ws, {"action": "sendtext", "text": f"slow {slow}"})
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda ws: recv(ws), busy))
    time.sleep(0.1)
    assert ask(connect("calm-user"), "my turn [[sim tokens=5 rate=5000 ttft=0]]")[-1]["type"] == "done"


# Issue 13, item 8a: a token the verifier allows (up to MAX_TOKEN_CHARS) reaches the authorizer; no 400 from aiohttp.


def padded_token(relay_gateway, size: int) -> str:
    """A dev-issuer token of about `size` characters (a filler claim; the signature still covers it)."""
    token = relay_gateway.dev_issuer.mint("big-token-user", filler="")
    filler = "x" * ((size - len(token)) * 3 // 4)
    token = relay_gateway.dev_issuer.mint("big-token-user", filler=filler)
    assert size - 8 <= len(token) <= size + 8
    return token


def test_a_12_kb_token_in_the_query_string_connects(relay_gateway, ws_connect):
    token = padded_token(relay_gateway, 12 * 1024)
    ws = ws_connect(relay_gateway.ws_url, query=f"token={token}")
    assert ask(ws, "hi [[sim tokens=5 rate=5000 ttft=0]]")[-1]["type"] == "done"


def test_a_12_kb_bearer_token_connects(relay_gateway, ws_connect):
    token = padded_token(relay_gateway, 12 * 1024)
    ws = ws_connect(relay_gateway.ws_url, headers={"Authorization": f"Bearer {token}"})
    assert ask(ws, "hi [[sim tokens=5 rate=5000 ttft=0]]")[-1]["type"] == "done"


def test_a_token_over_the_verifiers_limit_is_refused_by_the_authorizer(relay_gateway, ws_connect):
    token = padded_token(relay_gateway, MAX_TOKEN_CHARS + 100)
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(relay_gateway.ws_url, query=f"token={token}")
    assert refused.value.response.status_code == 403  # the authorizer's Deny, not aiohttp's 400
