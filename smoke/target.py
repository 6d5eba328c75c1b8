"""Where to connect and with which token.

- URL: `--url`, else the stack's `WebSocketUrl` output (CloudFormation `DescribeStacks` with the operator's
  credentials; the stack name is cdk.json's `stackName` unless `--stack` says otherwise).
- Token: `TOKEN` (or `--token`); else, against localgw, one from its dev issuer (`GET /dev/token`); else, against a
  stack with its own Cognito user pool, a temporary user created, signed in (USER_PASSWORD_AUTH, the flow the app
  client allows for scripts) and deleted when the checks are over.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import string
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEV_TOKEN_PATH = "/dev/token"  # localgw.dev_issuer.TOKEN_PATH, repeated: smoke must not import localgw


class TargetError(RuntimeError):
    """The target or a token could not be found; the message says what to pass instead."""


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    token: str | None
    how: str
    """Where the URL and token came from, for the first line of the report."""
    http_url: str | None = None
    """The OpenAI-compatible HTTP API's base URL (`…/v1`) when there is one: output `OpenAiBaseUrl`, or localgw's."""

    @property
    def local(self) -> bool:
        return urlsplit(self.url).hostname in LOCAL_HOSTS


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as exc:  # botocore's ClientError or a credentials error: say what to do instead
        raise TargetError(
            f"cannot read stack {stack_name!r} ({exc}); pass URL=wss://... or --stack NAME (and AWS credentials)"
        ) from exc
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def local_http_url(url: str) -> str:
    """localgw serves the HTTP channel on its own port under the stage: ws://HOST:PORT/dev → http://HOST:PORT/dev/v1."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/v1"


def dev_token(url: str, user: str) -> str | None:
    """A token from localgw's dev issuer, or None when it has none (`--no-auth`, or not localgw)."""
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    token_url = f"{scheme}://{parts.netloc}{DEV_TOKEN_PATH}?sub={user}"
    try:
        # Never through a proxy: the issuer is on this machine.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(token_url, timeout=5) as response:
            return str(json.loads(response.read())["token"])
    except (urllib.error.URLError, KeyError, ValueError):
        return None


def _password() -> str:
    # Cognito's default policy: 8+ characters with upper, lower, digit and symbol.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(24)) + "aA1!"


@contextlib.contextmanager
def temporary_user(cognito: Any, user_pool_id: str, client_id: str) -> Iterator[tuple[str, str]]:
    """(username, access token) of a user that exists only inside the `with` block."""
    username = f"relay-smoke-{secrets.token_hex(6)}"
    password = _password()
    cognito.admin_create_user(
        UserPoolId=user_pool_id, Username=username, MessageAction="SUPPRESS", TemporaryPassword=password
    )
    try:
        cognito.admin_set_user_password(UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True)
        signed_in = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        yield username, signed_in["AuthenticationResult"]["AccessToken"]
    finally:
        cognito.admin_delete_user(UserPoolId=user_pool_id, Username=username)


@contextlib.contextmanager
def resolve(
    url: str | None,
    token: str | None,
    stack_name: str,
    session: Any | None = None,
    http_url: str | None = None,
) -> Iterator[Target]:
    """The target, valid inside the `with` block (a temporary user is deleted on the way out). `http_url`: the HTTP
    API's base URL; by default the stack's `OpenAiBaseUrl`, or localgw's when the URL is local."""
    outputs: Mapping[str, str] = {}
    how = "URL given"
    if not url:
        if session is None:
            import boto3

            session = boto3.Session()
        outputs = stack_outputs(session.client("cloudformation"), stack_name)
        url = outputs.get("WebSocketUrl")
        if not url:
            raise TargetError(f"stack {stack_name!r} has no WebSocketUrl output; pass URL=wss://...")
        how = f"stack {stack_name} outputs"
    local = urlsplit(url).hostname in LOCAL_HOSTS
    http_url = http_url or outputs.get("OpenAiBaseUrl") or (local_http_url(url) if local else None)
    if token:
        yield Target(url, token, f"{how}, TOKEN given", http_url)
        return
    if local:
        minted = dev_token(url, f"smoke-{secrets.token_hex(4)}")
        how = f"{how}, {'localgw dev token' if minted else 'no token (localgw --no-auth?)'}"
        yield Target(url, minted, how, http_url)
        return
    pool, client = outputs.get("UserPoolId"), outputs.get("UserPoolClientId")
    if not (pool and client):
        raise TargetError("no token: set TOKEN=... (the stack uses an external issuer, or no stack outputs were read)")
    if session is None:
        import boto3

        session = boto3.Session()
    with temporary_user(session.client("cognito-idp"), pool, client) as (username, access_token):
        yield Target(url, access_token, f"{how}, temporary Cognito user {username} (deleted afterwards)", http_url)
