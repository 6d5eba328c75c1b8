"""Identifiers in API Gateway's formats."""

from __future__ import annotations

import base64
import secrets
import string

_API_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_aws_id() -> str:
    """A 16-character id like API Gateway's connection and request ids (`R0oXAdfD0kwCH6w=`).

    11 random bytes encode to 15 base64 characters plus one `=` of padding: the same length and shape as the real
    ids, including the `=` that botocore URL-encodes as `%3D` in @connections paths.
    """
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode("ascii")


def new_api_id() -> str:
    """A 10-character lower-case API id like `fjnq7njcv2`."""
    return "".join(secrets.choice(_API_ID_ALPHABET) for _ in range(10))
