"""localgw with the relay's real handlers: the `relay_gateway` fixture end to end, and the dev issuer's tokens
through the real authorizer (the relay's own e2e tests build on both)."""

from __future__ import annotations

import json
import urllib.request

import pytest
from websockets.exceptions import InvalidStatus

from lambdas.routes import Authorizer
from tests.conftest import RECV_TIMEOUT


def test_real_handlers_answer_through_localgw(relay_gateway, ws_connect) -> None:
    query = f"token={relay_gateway.dev_issuer.mint('smoke')}" if relay_gateway.dev_issuer else None
    ws = ws_connect(relay_gateway.ws_url, query=query)
    ws.send(json.dumps({"action": "sendtext", "text": "Hello"}))
    frames = []
    while not frames or frames[-1].get("type") not in ("done", "error"):
        frames.append(json.loads(ws.recv(timeout=RECV_TIMEOUT)))
    ws.close()

    # Whatever the answer, it came through @connections posts the gateway counted.
    posted = sum(tally.frames for tally in relay_gateway.stats.all_posts().values())
    assert posted >= len(frames)


def test_dev_issuer_tokens_pass_the_real_authorizer(start_gateway, ws_connect) -> None:
    pytest.importorskip("localgw.dev_issuer")
    pytest.importorskip("lambdas.handlers.authorizer")
    authorizer = Authorizer("Authorizer", "lambdas.handlers.authorizer.handler", ("route.request.querystring.token",))
    handle = start_gateway(routes=(), authorizer=authorizer, dev_issuer=True)

    ws_connect(handle.ws_url, query=f"token={handle.dev_issuer.mint('alice')}").close()
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(handle.ws_url, query="token=not-a-jwt")
    assert refused.value.response.status_code == 403
    with urllib.request.urlopen(f"{handle.url}/dev/token?sub=bob", timeout=RECV_TIMEOUT) as answer:
        token = json.loads(answer.read())["token"]
    ws_connect(handle.ws_url, query=f"token={token}").close()
