"""`make smoke` / `python -m smoke`: check a deployed relay (or localgw) end to end.

    make smoke                                  # the stack in cdk.json (its outputs, a temporary Cognito user)
    make smoke URL=ws://127.0.0.1:8080/dev      # localgw (a dev token from its issuer)
    TOKEN=eyJ... make smoke URL=wss://abc.execute-api.eu-west-1.amazonaws.com/prod
    python -m smoke --stack WsRelay-prod --model haiku

One line per check (✓/✗ and its time); exit status 1 when any check failed, 2 when there was nothing to check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from smoke.checks import CHECKS, HTTP_CHECKS, Smoke
from smoke.target import TargetError, resolve


def default_stack_name() -> str:
    try:
        from stacks.config import load_config

        return load_config().stack_name
    except Exception:  # no cdk.json next to us (smoke copied elsewhere): the stack's default name
        return "WsRelay"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("URL") or None, help="WebSocket URL (default: stack output)")
    parser.add_argument("--token", default=os.environ.get("TOKEN") or None, help="access token (default: TOKEN)")
    parser.add_argument("--stack", default=None, help="stack whose outputs to read (default: cdk.json stackName)")
    parser.add_argument("--model", default=None, help="model alias to ask (default: the relay's default model)")
    parser.add_argument(
        "--http-url", default=None, help="the HTTP API's base URL, …/v1 (default: stack output OpenAiBaseUrl)"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP API's checks")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    try:
        with resolve(args.url, args.token, args.stack or default_stack_name(), http_url=args.http_url) as target:
            http = target.http_url is not None and not args.no_http
            print(f"smoke test of {target.url} ({target.how})", flush=True)
            if http:
                print(f"and of its HTTP API at {target.http_url}", flush=True)
            outcomes = await Smoke(target, args.model).run(CHECKS + (HTTP_CHECKS if http else []))
    except TargetError as exc:
        print(f"✗ target: {exc}", flush=True)
        return 2
    failed = [outcome.name for outcome in outcomes if not outcome.ok]
    print(
        f"{len(outcomes) - len(failed)}/{len(outcomes)} checks passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
