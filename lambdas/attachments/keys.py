"""Where attachments sit in the bucket. Standard library only: the CDK stack grants exactly this prefix."""

from __future__ import annotations

import hashlib
from typing import Final

PREFIX: Final = "attachments/"
"""Every object sits under this prefix; the functions' IAM grants name it, and nothing else in the bucket."""


def object_key(owner: str, attachment_id: str) -> str:
    """`attachments/{digest of the owner}/{id}`: a user's objects share a prefix no other user's id can reach (user
    ids may hold characters a key should not, hence the digest)."""
    digest = hashlib.sha256(owner.encode("utf-8", "backslashreplace")).hexdigest()[:32]
    return f"{PREFIX}{digest}/{attachment_id}"
