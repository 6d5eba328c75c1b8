"""moto's DynamoDB over HTTP/1.1 keep-alive, every request run on one thread of its own.

moto's own server (`ThreadedMotoServer`: werkzeug's development server in front of `DomainDispatcherApplication`)
is built for a handful of test requests, and under localgw's load (hundreds of answers in one process, each making
table requests) it cost ~3 ms of CPU a request, most of it around moto's DynamoDB rather than in it:

- werkzeug closes the connection after every response, so each request is a new TCP connection and a new thread;
- `DomainDispatcherApplication` finds the service again for every request, listing moto's package directory and
  calling stat() on some fifty paths each time.

This app keeps connections open (aiohttp, served by `localgw.background.BackgroundServer` on a thread of its own)
and hands each request straight to moto's DynamoDB Flask app. Running every request on the one server thread is
also the serialization moto needs: its DynamoDB is not thread-safe (a transaction's rollback or a conditional write
could interleave with another write), whereas real DynamoDB applies each request atomically. moto answers in about
a millisecond whatever the table's size (localgw.moto_patches removes what grew with it), so nobody waits long.

The same thread deletes the items past their TTL every `ttl_sweep_seconds`, as DynamoDB does in the background: a
gateway left running for days keeps a table of the size its live data needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from localgw import moto_patches

MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""Above DynamoDB's largest request (BatchWriteItem: 25 items of 400 KB; TransactWriteItems: 4 MB)."""
# Hop-by-hop or length headers aiohttp writes itself from the body it sends.
_OWN_HEADERS = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})

_log = logging.getLogger("localgw.dynamodb")

TTL_SWEEP_SECONDS = 60.0
"""How often expired items are deleted. DynamoDB takes up to a few days; a minute keeps local runs close to it
while the sweep (a pass over the table, ~50 ms for 50 000 items) costs nothing noticeable."""


def dynamodb_app() -> Any:
    """moto's Flask app for DynamoDB: what `DomainDispatcherApplication` would pick for every request we get."""
    from moto.server import create_backend_app

    return create_backend_app("dynamodb")


def wsgi_environ(request: web.BaseRequest, body: bytes, server: tuple[str, int]) -> dict[str, Any]:
    """The WSGI environ werkzeug's server builds for `request` (what moto's Flask app reads)."""
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        # WSGI strings are bytes decoded as latin-1 (PEP 3333); aiohttp has already percent-decoded the path.
        "PATH_INFO": request.path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": request.query_string.encode("utf-8").decode("latin-1"),
        "RAW_URI": request.raw_path,
        "REQUEST_URI": request.raw_path,
        "REMOTE_ADDR": request.remote or "",
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{request.version.major}.{request.version.minor}",
        "CONTENT_LENGTH": str(len(body)),
    }
    for name, value in request.headers.items():
        if "_" in name:
            continue  # as werkzeug: `X_Foo` must not pass for `X-Foo`
        key = name.upper().replace("-", "_")
        if key == "CONTENT_LENGTH":
            continue  # the body is already read whole: its length is what it is
        if key != "CONTENT_TYPE":
            key = f"HTTP_{key}"
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def call_wsgi(app: Any, environ: dict[str, Any]) -> web.Response:
    """Run one request through a WSGI app; a crash is a 500, as werkzeug's server answers it."""
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None  # the legacy write() callable: moto never uses it

    try:
        result = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except Exception:
        _log.exception("moto failed on %s %s", environ["REQUEST_METHOD"], environ.get("HTTP_X_AMZ_TARGET", ""))
        return web.Response(status=500, text="Internal Server Error")
    status, headers = started
    code, _, reason = status.partition(" ")
    response = web.Response(status=int(code), reason=reason or None, body=body)
    for name, value in headers:
        if name.lower() not in _OWN_HEADERS:
            response.headers.add(name, value)
    return response


Observer = Callable[[str, bytes, bytes], None]
"""Called with (operation, request body, response body) after moto answered, on the server's thread."""


class RequestTap:
    """What every request passes through before moto sees it: `latency_ms` added (`--ddb-latency-ms`, the round trip
    a Lambda pays to DynamoDB on AWS; requests wait concurrently, as on a network; change it at any time), and
    `counts`, the requests seen per operation (`GetItem`, ...) since the start, for the benchmark.

    `observers` see every request and its response (the benchmark's capacity accounting). With
    `return_consumed_capacity` on, requests that do not ask for it get `ReturnConsumedCapacity: TOTAL` added, so the
    responses carry moto's `ConsumedCapacity` (the handlers ignore the extra field)."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self.counts: Counter[str] = Counter()
        self.observers: list[Observer] = []
        self.return_consumed_capacity = False

    def total(self) -> int:
        return sum(self.counts.values())

    def request_body(self, operation: str, body: bytes) -> bytes:
        if not self.return_consumed_capacity or operation not in CAPACITY_OPERATIONS:
            return body
        try:
            document = json.loads(body)
        except ValueError:
            return body
        if not isinstance(document, dict) or "ReturnConsumedCapacity" in document:
            return body
        document["ReturnConsumedCapacity"] = "TOTAL"
        return json.dumps(document).encode()

    def observe(self, operation: str, request: bytes, response: bytes) -> None:
        for observer in self.observers:
            try:
                observer(operation, request, response)
            except Exception:
                _log.exception("a DynamoDB request observer failed")


CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
"""The item operations that take `ReturnConsumedCapacity`."""


def moto_dynamodb_app(
    tap: RequestTap | None = None, *, ttl_sweep_seconds: float = TTL_SWEEP_SECONDS
) -> web.Application:
    """An aiohttp app handing every request to moto's DynamoDB app, one at a time, and deleting expired items every
    `ttl_sweep_seconds` (0: never) on the same thread (see the module docstring)."""
    moto_patches.apply()
    moto = dynamodb_app()
    tap = tap or RequestTap()

    async def handle(request: web.Request) -> web.Response:
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2] or request.method
        body = tap.request_body(operation, await request.read())
        tap.counts[operation] += 1
        if tap.latency_ms > 0:
            await asyncio.sleep(tap.latency_ms / 1000)
        host, port = request.transport.get_extra_info("sockname")[:2] if request.transport else ("127.0.0.1", 0)
        # Synchronous on purpose: nothing else runs on this loop while moto answers.
        response = call_wsgi(moto, wsgi_environ(request, body, (host, port)))
        if tap.observers:
            tap.observe(operation, body, response.body if isinstance(response.body, bytes) else b"")
        return response

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_route("*", "/{path:.*}", handle)
    if ttl_sweep_seconds > 0:
        app.cleanup_ctx.append(_ttl_sweeps(ttl_sweep_seconds))
    return app


def _ttl_sweeps(interval: float) -> Any:
    async def run(app: web.Application) -> Any:
        async def sweep_forever() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    # Synchronous, like a request: no request runs while the sweep changes the tables.
                    deleted = moto_patches.sweep_expired()
                except Exception:
                    _log.exception("the TTL sweep failed")
                    continue
                if deleted:
                    _log.debug("TTL: %d expired items deleted", deleted)

        task = asyncio.create_task(sweep_forever(), name="localgw-dynamodb-ttl")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run
