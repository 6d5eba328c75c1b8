"""The worker pool: a long invocation never delays other connections, nor the same connection's next message."""

from __future__ import annotations

import asyncio
import threading

from websockets.asyncio.client import connect as async_connect

from tests.conftest import RECV_TIMEOUT


def test_slow_invocation_does_not_block_others(gateway_for, ws_connect, management_client) -> None:
    # GIVEN a "slow" route that blocks until the test releases it, and a "fast" route that answers at once
    release = threading.Event()
    slow_started = threading.Event()

    def slow(event, context):
        slow_started.set()
        release.wait(RECV_TIMEOUT * 2)

    def fast(event, context):
        management_client(handle).post_to_connection(
            ConnectionId=event["requestContext"]["connectionId"], Data=b"fast answer"
        )

    handle = gateway_for({"slow": slow, "fast": fast}, streaming=("slow",))
    first, second = ws_connect(handle.ws_url), ws_connect(handle.ws_url)
    try:
        first.send('{"action": "slow"}')
        assert slow_started.wait(RECV_TIMEOUT)

        # WHEN other messages arrive while it is still running
        second.send('{"action": "fast"}')
        first.send('{"action": "fast"}')

        # THEN both are answered before the slow one finishes
        assert second.recv(timeout=RECV_TIMEOUT) == "fast answer"
        assert first.recv(timeout=RECV_TIMEOUT) == "fast answer"
        assert not release.is_set()
    finally:
        release.set()


def test_more_than_200_invocations_run_at_once(gateway_for) -> None:
    # Every handler waits at a barrier that only opens when all of them are running at the same time.
    clients = 210
    barrier = threading.Barrier(clients, timeout=60)

    def stream(event, context):
        barrier.wait()
        finished.append(event["requestContext"]["connectionId"])

    finished: list[str] = []
    handle = gateway_for({"sendtext": stream}, streaming=("sendtext",))

    async def run() -> None:
        sockets = [await async_connect(handle.ws_url, open_timeout=30) for _ in range(clients)]
        try:
            await asyncio.gather(*(ws.send('{"action": "sendtext"}') for ws in sockets))
            for _ in range(600):
                if len(finished) == clients:
                    break
                await asyncio.sleep(0.1)
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))

    asyncio.run(run())
    assert len(finished) == clients
    assert not barrier.broken
