"""Time to first token through the relay's own work: `sendtext` sent → `start` and → first `delta` received, with the
simulator's first token at 0 ms, at several DynamoDB round-trip latencies (localgw's `--ddb-latency-ms`), and the
DynamoDB requests each answer makes.

Every DynamoDB request made one after another before the model is called adds its latency to the first token; the
difference between two latencies tells how many sequential round trips stand in the way.

    python -m bench.first_token [--repeat 15] [--latencies 0,20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench.client import open_socket
from bench.gateway import CapturedConsole, start_gateway, wait_until_idle
from localgw import GatewayHandle

QUESTION = "[[sim tokens=20 rate=100000 ttft=0]] first token {n}"
USER = "bench-first-token"


@dataclass(frozen=True, slots=True)
class FirstTokenRun:
    latency_ms: float
    start_ms: float
    first_delta_ms: float
    dynamodb_requests: int
    dynamodb_by_operation: dict[str, int]


async def measure_one(handle: GatewayHandle, n: int, timeout_s: float = 20.0) -> FirstTokenRun:
    tap = handle.gateway.dynamodb.tap  # type: ignore[union-attr]
    token = handle.dev_issuer.mint(USER) if handle.dev_issuer else None
    ws = await open_socket(handle.ws_url, token)
    try:
        finished = handle.stats.invocations().get("sendtext", 0) + 1
        before = dict(tap.counts)
        message = {"action": "sendtext", "text": QUESTION.format(n=n), "requestId": f"ft-{n}-{time.time_ns()}"}
        sent = time.monotonic()
        await ws.send(json.dumps(message))
        start_at = delta_at = None
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
            now = time.monotonic()
            if frame["type"] == "start" and start_at is None:
                start_at = now
            elif frame["type"] == "delta" and delta_at is None:
                delta_at = now
            elif frame["type"] in ("done", "error"):
                if frame["type"] == "error":
                    raise RuntimeError(f"answer failed: {frame}")
                break
        await wait_until_idle(handle, "sendtext", finished, timeout_s)
        # The answer's last writes (its frames, quota settlement) happen after its done frame: wait for them.
        await asyncio.sleep(0.05 + 4 * tap.latency_ms / 1000)
    finally:
        await ws.close()
    after = dict(tap.counts)
    by_operation = {op: after.get(op, 0) - before.get(op, 0) for op in after if after.get(op, 0) != before.get(op, 0)}
    assert start_at is not None and delta_at is not None
    return FirstTokenRun(
        tap.latency_ms, (start_at - sent) * 1000, (delta_at - sent) * 1000, sum(by_operation.values()), by_operation
    )


async def measure(handle: GatewayHandle, latencies: list[float], repeat: int) -> list[FirstTokenRun]:
    tap = handle.gateway.dynamodb.tap  # type: ignore[union-attr]
    runs: list[FirstTokenRun] = []
    for n in range(2):  # warm-up: imports, clients, pools
        await measure_one(handle, -1 - n)
    for index in range(repeat):
        for latency in latencies:  # interleaved, so drift on a shared machine hits every latency alike
            tap.latency_ms = latency
            runs.append(await measure_one(handle, index))
    tap.latency_ms = 0
    return runs


def summarize(runs: list[FirstTokenRun]) -> list[dict[str, Any]]:
    rows = []
    for latency in sorted({run.latency_ms for run in runs}):
        mine = [run for run in runs if run.latency_ms == latency]
        rows.append(
            {
                "ddb_latency_ms": latency,
                "runs": len(mine),
                "start_ms_median": round(statistics.median(run.start_ms for run in mine), 1),
                "first_delta_ms_median": round(statistics.median(run.first_delta_ms for run in mine), 1),
                "dynamodb_requests_median": statistics.median(run.dynamodb_requests for run in mine),
                "dynamodb_by_operation": mine[-1].dynamodb_by_operation,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.first_token")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--latencies", default="0,20")
    args = parser.parse_args()
    handle = start_gateway(CapturedConsole())
    try:
        runs = asyncio.run(measure(handle, [float(x) for x in args.latencies.split(",")], args.repeat))
    finally:
        handle.stop()
    for row in summarize(runs):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
