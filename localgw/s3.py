"""S3 for local runs: moto's S3 on 127.0.0.1 holding the attachments bucket, so the relay's presigned POSTs work
from curl, Python and the browser with no AWS account.

moto stores a browser-form POST without checking its policy; S3 refuses one that breaks it. Since the relay's upload
limits live in that policy (the exact size, the content type, the expiry), this front checks them first and answers
as S3 does: `EntityTooLarge` / `EntityTooSmall` (400), `AccessDenied` (403) for an expired policy or a failed
condition. Everything else goes to moto unchanged, one request at a time on the server's thread (moto is not
thread-safe), like localgw.moto_server does for DynamoDB.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from aiohttp import web

from localgw.background import BackgroundServer
from localgw.environment import local_client
from localgw.moto_server import call_wsgi, wsgi_environ

MAX_REQUEST_BYTES = 64 * 1024 * 1024
"""Far above the relay's largest upload (4.5 MB)."""


def s3_app() -> Any:
    from moto.server import create_backend_app

    return create_backend_app("s3")


def _error(status: int, code: str, message: str) -> web.Response:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=status, body=body.encode(), content_type="application/xml")


def form_fields(content_type: str, body: bytes) -> tuple[dict[str, str], int | None]:
    """The text fields of a multipart form and the size of its `file` part (None when there is none)."""
    message: Message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body
    )
    fields: dict[str, str] = {}
    size = None
    if not message.is_multipart():
        return fields, size
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file":
            size = len(payload)
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8", "replace")
    return fields, size


def policy_violation(fields: dict[str, str], size: int | None, now: float) -> web.Response | None:
    """S3's answer to a form POST that has no policy or breaks it, or None when it keeps to it (the signature itself
    is not checked: any is accepted)."""
    raw = next((value for name, value in fields.items() if name.lower() == "policy"), None)
    if raw is None:  # an unsigned form POST: the bucket is private
        return _error(403, "AccessDenied", "Access Denied")
    try:
        policy = json.loads(base64.b64decode(raw))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return _error(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    if expiration < now:
        return _error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    lowered = {name.lower(): value for name, value in fields.items()}
    for condition in policy.get("conditions", []):
        if isinstance(condition, list) and condition and condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if size is not None and size > high:
                return _error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            if size is not None and size < low:
                return _error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size")
        elif isinstance(condition, dict):
            for name, expected in condition.items():
                if name.lower() in ("bucket",):
                    continue
                if lowered.get(name.lower()) != expected:
                    failed = json.dumps(["eq", f"${name}", expected])
                    return _error(
                        403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {failed}"
                    )
    return None


def moto_s3_app() -> web.Application:
    moto = s3_app()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        content_type = request.headers.get("Content-Type", "")
        if request.method == "POST" and content_type.startswith("multipart/form-data"):
            refusal = policy_violation(*form_fields(content_type, body), time.time())
            if refusal is not None:
                return refusal
        host, port = request.transport.get_extra_info("sockname")[:2] if request.transport else ("127.0.0.1", 0)
        return call_wsgi(moto, wsgi_environ(request, body, (host, port)))

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_route("*", "/{path:.*}", handle)
    return app


class LocalS3:
    """moto's S3 in an in-process server, with the attachments bucket created (private, CORS for `origins`)."""

    def __init__(self, *, port: int = 0, region: str) -> None:
        self._port = port
        self._region = region
        self._server: BackgroundServer | None = None
        self.url: str | None = None

    def start(self) -> str:
        self._server = BackgroundServer(
            moto_s3_app(), "127.0.0.1", self._port, name="localgw-s3", handler_cancellation=False
        ).start()
        self.url = self._server.url
        return self.url

    def create_bucket(self, bucket: str, origins: list[str]) -> None:
        """The bucket as the stack makes it: CORS lets the web client's origin POST uploads; a second gateway in the
        same process (tests) finds it there already (moto keeps data per process)."""
        client = self.client()
        try:
            if self._region == "us-east-1":
                client.create_bucket(Bucket=bucket)
            else:
                client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self._region})
        except (client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
            pass
        client.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": origins,
                        "AllowedMethods": ["POST"],
                        "AllowedHeaders": ["*"],
                        "MaxAgeSeconds": 3000,
                    }
                ]
            },
        )

    def client(self) -> Any:
        if self.url is None:
            raise RuntimeError("LocalS3 is not started")
        return local_client("s3", self.url, self._region)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
