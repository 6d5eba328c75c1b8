"""Test doubles for authentication: an issuer whose keys are made in the test, a JWKS server on 127.0.0.1, and a
capture of the relay's log lines as they would be printed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from lambdas import auth, env_vars
from lambdas.observability import logger as relay_logger

AUDIENCE = "client-123"
JWKS_PATH = "/.well-known/jwks.json"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef123/prod/$connect"


@cache
def _rsa_key(slot: int) -> rsa.RSAPrivateKey:
    # RSA key generation takes tens of milliseconds: a few keys are made once and reused under new kids.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeIssuer:
    """Signing keys by kid, and tokens signed with them (claims overridable)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.keys: dict[str, tuple[str, Any]] = {}
        self.published: set[str] = set()

    def add_key(self, alg: str = "ES256", *, publish: bool = True, kid: str | None = None) -> str:
        kid = kid or f"{alg.lower()}-{secrets.token_hex(4)}"
        private = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else _rsa_key(len(self.keys) % 4)
        self.keys[kid] = (alg, private)
        if publish:
            self.published.add(kid)
        return kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in sorted(self.published):
            alg, private = self.keys[kid]
            public = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(private.public_key()))
            keys.append({**public, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": keys}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": "user-1",
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 600,
            "email": "user1@example.com",
            "cognito:username": "user1",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(self, kid: str, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        """A token signed with `kid`'s key; a claim overridden with None is left out."""
        alg, private = self.keys[kid]
        return jwt.encode(self.claims(**overrides), private, algorithm=alg, headers={"kid": kid, **(headers or {})})

    def public_pem(self, kid: str) -> bytes:
        return (
            self.keys[kid][1]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand: what an attacker sends (PyJWT refuses to make some of these)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    return f"{head}.{body}.{b64url(signature)}"


def hs256_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


class JwksServer:
    """Serves JSON documents by path on 127.0.0.1 (ephemeral port) and counts the requests it answers."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[], tuple[int, bytes]]] = {}
        self.hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                route = server.routes.get(self.path)
                status, body = route() if route else (404, b"{}")
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "https://example.invalid/jwks.json")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll interval: shutdown() waits for the serving loop's next poll.
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def serve_json(self, path: str, document: Callable[[], Any]) -> None:
        self.routes[path] = lambda: (200, json.dumps(document()).encode())

    def reset(self) -> None:
        self.routes.clear()
        self.hits.clear()

    def fail(self, path: str, status: int = 503) -> None:
        self.routes[path] = lambda: (status, b'{"message": "unavailable"}')

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class LogCapture(logging.Handler):
    """The relay logger's records, rendered by Powertools' own formatter exactly as they would be printed."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[dict[str, Any]] = []
        self.text = ""

    def emit(self, record: logging.LogRecord) -> None:
        rendered = relay_logger.registered_formatter.format(record)
        self.text += rendered + "\n"
        self.lines.append(json.loads(rendered))

    def messages(self, level: str | None = None) -> list[str]:
        return [line["message"] for line in self.lines if level is None or line["level"] == level]


def capture_logs() -> Iterator[LogCapture]:
    """Use as a fixture body: `yield from capture_logs()`."""
    handler = LogCapture()
    target = logging.getLogger(relay_logger.name)
    target.addHandler(handler)
    try:
        yield handler
    finally:
        target.removeHandler(handler)


@dataclass
class FakeContext:
    function_name: str = "Authorizer"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:Authorizer"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def authorizer_event(
    *, query: dict[str, str] | None = None, headers: dict[str, str] | None = None, method_arn: str = METHOD_ARN
) -> dict[str, Any]:
    """A WebSocket REQUEST authorizer event, shaped like the example in API Gateway's developer guide."""
    all_headers = {
        "Connection": "upgrade",
        "Host": "abcdef123.execute-api.eu-west-1.amazonaws.com",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "Upgrade": "websocket",
        "X-Forwarded-For": "203.0.113.7",
        **(headers or {}),
    }
    return {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": dict(query or {}),
        "multiValueQueryStringParameters": {name: [value] for name, value in (query or {}).items()},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "X1b2C3",
            "requestTime": "19/Jan/2023:21:13:26 +0000",
            "messageDirection": "IN",
            "stage": "prod",
            "connectedAt": 1674162806344,
            "requestTimeEpoch": 1674162806345,
            "identity": {"sourceIp": "203.0.113.7"},
            "requestId": "X1b2C3req",
            "domainName": "abcdef123.execute-api.eu-west-1.amazonaws.com",
            "connectionId": "X1b2C3cid=",
            "apiId": "abcdef123",
        },
    }


@contextmanager
def issuer_in_environment(jwks: JwksServer, environ: Any, algorithm: str, kid: str) -> Iterator[FakeIssuer]:
    """A fake issuer with one key, served by `jwks`, and the relay's auth settings pointing at it (set through
    `environ`, a pytest MonkeyPatch): what an authorizer handler reads in a deployed function. Caches cleared
    before and after."""
    jwks.reset()
    fake = FakeIssuer(jwks.url)
    fake.add_key(algorithm, kid=kid)
    jwks.serve_json(JWKS_PATH, fake.jwks)
    environ.setenv(env_vars.AUTH_ISSUER, fake.url)
    environ.setenv(env_vars.AUTH_AUDIENCE, AUDIENCE)
    environ.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for name in (
        env_vars.AUTH_TOKEN_USE,
        env_vars.AUTH_JWKS_URL,
        env_vars.AUTH_OIDC_DISCOVERY,
        env_vars.AUTH_LEEWAY_SECONDS,
    ):
        environ.delenv(name, raising=False)
    auth.auth_settings.cache_clear()
    auth.clear_caches()
    try:
        yield fake
    finally:
        auth.auth_settings.cache_clear()
        auth.clear_caches()
