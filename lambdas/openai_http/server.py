"""The Lambda's web server: the channel's app at `/v1` on `AWS_LWA_PORT`, behind the Lambda Web Adapter.

The adapter (a layer; `AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap`, handler `lambdas/openai_http/run.sh`) starts this
server, waits for `GET /healthz` to answer, then turns each invocation into an HTTP request and, with
`AWS_LWA_INVOKE_MODE=response_stream`, streams the response back through API Gateway as it is written.
"""

from __future__ import annotations

import os

from aiohttp import web

from lambdas import env_vars
from lambdas.config import env_int
from lambdas.openai_http.app import AppOptions, create_app

HEALTH_PATH = "/healthz"
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_SECONDS = 300


def build_app() -> web.Application:
    root = web.Application()
    options = AppOptions(
        authenticate=True,
        timeout_s=env_int(env_vars.HTTP_TIMEOUT_SECONDS, DEFAULT_TIMEOUT_SECONDS),
        trust_lambda_context=True,
    )
    root.add_subapp("/v1", create_app(options))
    root.router.add_get(HEALTH_PATH, _healthy)
    return root


async def _healthy(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    port = int(os.environ.get("AWS_LWA_PORT") or os.environ.get("PORT") or DEFAULT_PORT)
    # Only the adapter, in the same execution environment, talks to this server.
    web.run_app(build_app(), host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
