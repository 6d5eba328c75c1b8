"""`python -m localgw.simulator [--port 8081]`: the simulated upstreams alone (localgw itself serves them too)."""

from __future__ import annotations

import argparse

from aiohttp import web

from .app import create_app
from .script import DEFAULT_RATE, DEFAULT_TOKENS, DEFAULT_TTFT_MS, Defaults


def main() -> None:
    parser = argparse.ArgumentParser(
        description="localgw's simulated LLM upstreams (a deterministic simulator, not a model)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--tokens", type=int, default=DEFAULT_TOKENS, help="default reply length in words")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="default words per second")
    parser.add_argument("--ttft-ms", type=float, default=DEFAULT_TTFT_MS, help="default time to first chunk")
    args = parser.parse_args()
    app = create_app(Defaults(tokens=args.tokens, rate=args.rate, ttft_ms=args.ttft_ms))
    web.run_app(app, host=args.host, port=args.port, handler_cancellation=True)


if __name__ == "__main__":
    main()
