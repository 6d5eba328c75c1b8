"""Per-user quotas on the single table: answers in flight, and output tokens per UTC day.

In flight — one item per user (`pk = USER#{userId}`, `sk = INFLIGHT`) holds a map requestId → lease expiry (epoch
seconds) and a version. `acquire` reads it, drops expired leases, and writes it back only if the version is
unchanged (optimistic locking), so concurrent acquires never overshoot the limit. A Lambda that dies without
`release` (timeout, crash) blocks a slot only until its lease expires: no janitor needed.

Output tokens — one counter per user and UTC day (`sk = TOKENS#{YYYY-MM-DD}`), incremented with an atomic ADD after
each answer and checked before the next one. The check is soft: answers already running may end past the limit
(at most the in-flight limit × their max tokens); `check` returns the remaining budget so the caller can cap
`maxTokens` with it. Counters expire through TTL two days after their day.

Settings: RELAY_QUOTA_INFLIGHT (default 2) and RELAY_QUOTA_DAILY_OUTPUT_TOKENS (default 200 000); 0 = unlimited,
which also skips the DynamoDB calls.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas import clients
from lambdas.config import env_int
from lambdas.config import settings as relay_settings
from lambdas.table_schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

ENV_QUOTA_INFLIGHT = "RELAY_QUOTA_INFLIGHT"
ENV_QUOTA_DAILY_OUTPUT_TOKENS = "RELAY_QUOTA_DAILY_OUTPUT_TOKENS"
DEFAULT_INFLIGHT = 2
DEFAULT_DAILY_OUTPUT_TOKENS = 200_000

MAX_ACQUIRE_ATTEMPTS = 8
"""Optimistic-lock rounds before giving up; every lost round means another acquire of the same user won."""
CONTENDED_RETRY_AFTER_S = 1
INFLIGHT_ITEM_SLACK_S = 24 * 3600
"""The in-flight item outlives its last lease by this much, then TTL removes it."""
DAILY_ITEM_TTL_S = 2 * 24 * 3600
"""A day's counter is kept this long after the day ends."""

INFLIGHT = "inflight"
DAILY_OUTPUT_TOKENS = "daily_output_tokens"

Clock = Callable[[], float]


class QuotaError(Exception):
    """A quota could not be granted or checked."""


class QuotaExceededError(QuotaError):
    """The user is over a quota; `retry_after_s` says when trying again makes sense."""

    def __init__(self, quota: str, limit: int, retry_after_s: int) -> None:
        super().__init__(f"{quota} quota of {limit} reached; retry after {retry_after_s} s")
        self.quota = quota
        self.limit = limit
        self.retry_after_s = retry_after_s


class QuotaUnavailableError(QuotaError):
    """DynamoDB failed while checking or recording a quota."""


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    inflight: int = DEFAULT_INFLIGHT
    """Answers one user may have running at once; 0 = unlimited."""
    daily_output_tokens: int = DEFAULT_DAILY_OUTPUT_TOKENS
    """Output tokens one user may use per UTC day; 0 = unlimited."""

    def __post_init__(self) -> None:
        if self.inflight < 0 or self.daily_output_tokens < 0:
            raise ValueError("quota limits must be 0 (unlimited) or positive")

    @classmethod
    def from_env(cls) -> QuotaSettings:
        return cls(
            inflight=env_int(ENV_QUOTA_INFLIGHT, DEFAULT_INFLIGHT),
            daily_output_tokens=env_int(ENV_QUOTA_DAILY_OUTPUT_TOKENS, DEFAULT_DAILY_OUTPUT_TOKENS),
        )


@cache
def settings() -> QuotaSettings:
    """The quota settings of this execution environment (tests and localgw call `settings.cache_clear()`)."""
    return QuotaSettings.from_env()


class Quotas:
    """The quota operations for one table. The client is injectable; nothing talks to AWS before a call."""

    def __init__(self, *, table_name: str, limits: QuotaSettings, client: Any = None, clock: Clock = time.time) -> None:
        self._table = table_name
        self._limits = limits
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else clients.dynamodb()

    # In-flight answers.

    def acquire(self, user_id: str, request_id: str, lease_seconds: float) -> None:
        """Take an in-flight slot for `request_id` until `release` or `lease_seconds` from now (choose it longer than
        the answer can run: the function's remaining time plus a margin). Acquiring a held request_id again
        renews its lease. Raises QuotaExceededError (retry_after_s = until the earliest lease ends)."""
        limit = self._limits.inflight
        if limit == 0:
            return
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        key = _key(user_id, "INFLIGHT")
        for attempt in range(MAX_ACQUIRE_ATTEMPTS):
            version, leases = self._read_leases(key)
            now = self._clock()
            live = {rid: expiry for rid, expiry in leases.items() if expiry > now and rid != request_id}
            if len(live) >= limit:
                retry_after = max(1, math.ceil(min(live.values()) - now))
                raise QuotaExceededError(INFLIGHT, limit, retry_after)
            live[request_id] = math.ceil(now + lease_seconds)
            if self._write_leases(key, version, live):
                return
            # Another acquire or release of this user won the round: back off a little and read again.
            time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        raise QuotaExceededError(INFLIGHT, limit, CONTENDED_RETRY_AFTER_S)

    def release(self, user_id: str, request_id: str) -> None:
        """Give the slot back. Safe to call twice, or for a lease that already expired or was never taken."""
        if self._limits.inflight == 0:
            return
        try:
            self.client.update_item(
                TableName=self._table,
                Key=_key(user_id, "INFLIGHT"),
                # The version bump makes any acquire that read the old map retry instead of writing the lease back.
                UpdateExpression="REMOVE #leases.#rid ADD #version :one",
                ConditionExpression="attribute_exists(#leases.#rid)",
                ExpressionAttributeNames={"#leases": "leases", "#rid": request_id, "#version": "version"},
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except (ClientError, BotoCoreError) as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise QuotaUnavailableError(f"release failed: {_code(exc)}") from exc

    def _read_leases(self, key: dict[str, Any]) -> tuple[int | None, dict[str, float]]:
        try:
            item = self.client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise QuotaUnavailableError(f"reading in-flight leases failed: {_code(exc)}") from exc
        if item is None:
            return None, {}
        leases = {rid: float(value["N"]) for rid, value in item.get("leases", {}).get("M", {}).items()}
        return int(item["version"]["N"]), leases

    def _write_leases(self, key: dict[str, Any], version: int | None, leases: dict[str, int]) -> bool:
        item = {
            **key,
            "leases": {"M": {rid: {"N": str(expiry)} for rid, expiry in leases.items()}},
            "version": {"N": str((version or 0) + 1)},
            TTL_ATTRIBUTE: {"N": str(max(leases.values()) + INFLIGHT_ITEM_SLACK_S)},
        }
        if version is None:
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            }
        else:
            condition = {
                "ConditionExpression": "#version = :version",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":version": {"N": str(version)}},
            }
        try:
            self.client.put_item(TableName=self._table, Item=item, **condition)
        except (ClientError, BotoCoreError) as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise QuotaUnavailableError(f"writing in-flight leases failed: {_code(exc)}") from exc
        return True

    # Output tokens per UTC day.

    def check(self, user_id: str) -> int | None:
        """Before an answer: the output tokens left today (None = unlimited). Raises QuotaExceededError with
        retry_after_s = seconds until the next UTC midnight when none are left."""
        limit = self._limits.daily_output_tokens
        if limit == 0:
            return None
        now = self._clock()
        try:
            item = self.client.get_item(
                TableName=self._table,
                Key=_key(user_id, _day_sort_key(now)),
                ConsistentRead=True,
                ProjectionExpression="#tokens",
                ExpressionAttributeNames={"#tokens": "outputTokens"},
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise QuotaUnavailableError(f"reading token usage failed: {_code(exc)}") from exc
        used = int(item["outputTokens"]["N"]) if item and "outputTokens" in item else 0
        if used >= limit:
            raise QuotaExceededError(DAILY_OUTPUT_TOKENS, limit, seconds_until_utc_midnight(now))
        return limit - used

    def add(self, user_id: str, output_tokens: int) -> None:
        """After an answer (whatever its outcome): count the output tokens it used today."""
        if self._limits.daily_output_tokens == 0 or output_tokens <= 0:
            return
        now = self._clock()
        expires = _next_utc_midnight(now) + DAILY_ITEM_TTL_S
        try:
            self.client.update_item(
                TableName=self._table,
                Key=_key(user_id, _day_sort_key(now)),
                UpdateExpression="ADD #tokens :n SET #ttl = :ttl",
                ExpressionAttributeNames={"#tokens": "outputTokens", "#ttl": TTL_ATTRIBUTE},
                ExpressionAttributeValues={":n": {"N": str(int(output_tokens))}, ":ttl": {"N": str(expires)}},
            )
        except (ClientError, BotoCoreError) as exc:
            raise QuotaUnavailableError(f"recording token usage failed: {_code(exc)}") from exc


def quotas() -> Quotas:
    """Quotas on the relay's table with the shared client and the environment's limits (cheap: built per call, so a
    settings change — localgw, tests — is always seen)."""
    return Quotas(table_name=relay_settings().table_name, limits=settings())


def acquire(user_id: str, request_id: str, lease_seconds: float) -> None:
    quotas().acquire(user_id, request_id, lease_seconds)


def release(user_id: str, request_id: str) -> None:
    quotas().release(user_id, request_id)


def check(user_id: str) -> int | None:
    return quotas().check(user_id)


def add(user_id: str, output_tokens: int) -> None:
    quotas().add(user_id, output_tokens)


def seconds_until_utc_midnight(now: float) -> int:
    return max(1, math.ceil(_next_utc_midnight(now) - now))


def _next_utc_midnight(now: float) -> int:
    today = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((today + timedelta(days=1)).timestamp())


def _day_sort_key(now: float) -> str:
    return f"TOKENS#{datetime.fromtimestamp(now, tz=UTC):%Y-%m-%d}"


def _key(user_id: str, sort_key: str) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": f"USER#{user_id}"}, SORT_KEY: {"S": sort_key}}


def _code(exc: ClientError | BotoCoreError) -> str:
    """DynamoDB's error code, or the transport failure's name (a timeout is not a ClientError)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__
