"""Per-user quotas on the single table: answers in flight, and output tokens per UTC day.

In flight — one item per user (`USER#{userId}` / `INFLIGHT`) holds a map requestId → lease expiry (epoch seconds)
and a version. A lease is written back whole, only if the version is still the one read (optimistic locking), so
concurrent admissions never overshoot the limit. A function that dies without releasing (timeout, crash) blocks a
slot only until its lease expires: no janitor needed.

Output tokens — one counter per user and UTC day (`TOKENS#{YYYY-MM-DD}`), incremented with an atomic ADD after each
answer and checked before the next one. The check is soft: answers already running may end past the limit (at most
the in-flight limit × their max tokens); the tokens left cap the next answer's `maxTokens`. Counters expire through
TTL two days after their day.

An answer's admission reads both items with its own record in one snapshot (`keys`, `snapshot`) and writes the
lease in its one transaction (`lease`); its finish releases the lease and charges the tokens in another
(`release_write`, `charge_write`). `acquire`, `release`, `check` and `add` do the same on their own; `admit` checks
and leases from one read (the HTTP channel's admission).

Limits: `RELAY_QUOTA_INFLIGHT` (default 2) and `RELAY_QUOTA_DAILY_OUTPUT_TOKENS` (default 200 000); 0 = unlimited,
which also leaves the items alone.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lambdas import env_vars
from lambdas.config import env_int
from lambdas.store import keys
from lambdas.store.errors import ConflictError, QuotaExceededError, QuotaUnavailableError, StoreError
from lambdas.store.table import Items, Table, Write
from lambdas.table_schema import PARTITION_KEY, TTL_ATTRIBUTE

DEFAULT_INFLIGHT = 2
DEFAULT_DAILY_OUTPUT_TOKENS = 200_000

MAX_ACQUIRE_ATTEMPTS = 8
"""Optimistic-lock rounds before giving up; every lost round means another admission of the same user won."""
CONTENDED_RETRY_AFTER_S = 1
INFLIGHT_ITEM_SLACK_S = 24 * 3600
"""The in-flight item outlives its last lease by this much, then TTL removes it."""
DAILY_ITEM_TTL_S = 2 * 24 * 3600
"""A day's counter is kept this long after the day ends."""

INFLIGHT = "inflight"
DAILY_OUTPUT_TOKENS = "daily_output_tokens"

Clock = Callable[[], float]


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
            inflight=env_int(env_vars.QUOTA_INFLIGHT, DEFAULT_INFLIGHT),
            daily_output_tokens=env_int(env_vars.QUOTA_DAILY_OUTPUT_TOKENS, DEFAULT_DAILY_OUTPUT_TOKENS),
        )


@dataclass(frozen=True, slots=True)
class QuotaSnapshot:
    """One user's quota items as read at `now`."""

    user_id: str
    now: float
    version: int | None = None
    """The in-flight item's version; None: no item yet."""
    leases: dict[str, float] = field(default_factory=dict)
    used_today: int = 0


class Quotas:
    """The quota items of one table. Nothing talks to DynamoDB when a limit is 0."""

    def __init__(self, client: object, table_name: str, limits: QuotaSettings, *, clock: Clock = time.time) -> None:
        self._table = Table(client, table_name)
        self.limits = limits
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    # Reading.

    def keys(self, user_id: str, now: float) -> list[keys.Key]:
        """The items a snapshot of `user_id` at `now` needs (none when both limits are 0)."""
        wanted = []
        if self.limits.inflight:
            wanted.append(keys.inflight(user_id))
        if self.limits.daily_output_tokens:
            wanted.append(keys.daily_tokens(user_id, _day(now)))
        return wanted

    def snapshot(self, user_id: str, now: float, items: Items) -> QuotaSnapshot:
        """The snapshot from a read of `keys(user_id, now)` (items by (pk, sk); a missing one is absent)."""
        inflight = items.get(keys.identity(keys.inflight(user_id)))
        tokens = items.get(keys.identity(keys.daily_tokens(user_id, _day(now))))
        version = None if inflight is None else int(inflight["version"]["N"])
        leases = {} if inflight is None else {rid: float(v["N"]) for rid, v in inflight["leases"]["M"].items()}
        used = int(tokens["outputTokens"]["N"]) if tokens and "outputTokens" in tokens else 0
        return QuotaSnapshot(user_id, now, version, leases, used)

    def read(self, user_id: str) -> QuotaSnapshot:
        now = self._clock()
        wanted = self.keys(user_id, now)
        try:
            items = self._table.snapshot(wanted, doing="reading quotas") if wanted else {}
        except StoreError as exc:
            raise QuotaUnavailableError(str(exc)) from exc
        return self.snapshot(user_id, now, items)

    # Deciding and writing.

    def tokens_left(self, snapshot: QuotaSnapshot) -> int | None:
        """The output tokens left today (None = unlimited). QuotaExceededError with retry_after_s = seconds until
        the next UTC midnight when none are left."""
        limit = self.limits.daily_output_tokens
        if limit == 0:
            return None
        if snapshot.used_today >= limit:
            raise QuotaExceededError(DAILY_OUTPUT_TOKENS, limit, seconds_until_utc_midnight(snapshot.now))
        return limit - snapshot.used_today

    def lease(self, snapshot: QuotaSnapshot, request_id: str, lease_seconds: float) -> Write | None:
        """The write taking an in-flight slot for `request_id` until released or `lease_seconds` after the snapshot
        (choose it longer than the answer can run). Taking a held request_id again renews its lease. Refused by
        its condition if the item changed since the snapshot. QuotaExceededError (retry_after_s = until the
        earliest lease ends) when no slot is free; None when unlimited."""
        limit = self.limits.inflight
        if limit == 0:
            return None
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        now = snapshot.now
        live = {rid: expiry for rid, expiry in snapshot.leases.items() if expiry > now and rid != request_id}
        if len(live) >= limit:
            raise QuotaExceededError(INFLIGHT, limit, max(1, math.ceil(min(live.values()) - now)))
        leases = {rid: math.ceil(expiry) for rid, expiry in live.items()}
        leases[request_id] = math.ceil(now + lease_seconds)
        item = {
            **keys.inflight(snapshot.user_id),
            "leases": {"M": {rid: {"N": str(expiry)} for rid, expiry in leases.items()}},
            "version": {"N": str((snapshot.version or 0) + 1)},
            TTL_ATTRIBUTE: {"N": str(max(leases.values()) + INFLIGHT_ITEM_SLACK_S)},
        }
        if snapshot.version is None:
            condition: dict[str, object] = {
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": PARTITION_KEY},
            }
        else:
            condition = {
                "ConditionExpression": "#version = :version",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":version": {"N": str(snapshot.version)}},
            }
        return Write("lease", "Put", {"Item": item, **condition})

    def release_write(self, user_id: str, request_id: str, *, strict: bool = False) -> Write | None:
        """The write giving the slot back. Its condition only asks for the leases map (without it the update is
        invalid); `strict` also makes a release of a slot not held a ConflictError."""
        if self.limits.inflight == 0:
            return None
        params: dict[str, object] = {
            "Key": keys.inflight(user_id),
            # The version bump makes any admission that read the old map retry instead of writing the lease back.
            "UpdateExpression": "REMOVE #leases.#rid ADD #version :one",
            "ConditionExpression": "attribute_exists(#leases)",
            "ExpressionAttributeNames": {"#leases": "leases", "#rid": request_id, "#version": "version"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        if strict:
            params["ConditionExpression"] = "attribute_exists(#leases.#rid)"
        return Write("release", "Update", params)

    def charge_write(self, user_id: str, output_tokens: int) -> Write | None:
        """The write counting `output_tokens` against today's budget; None when there is nothing to count."""
        if self.limits.daily_output_tokens == 0 or output_tokens <= 0:
            return None
        now = self._clock()
        expires = _next_utc_midnight(now) + DAILY_ITEM_TTL_S
        return Write(
            "charge",
            "Update",
            {
                "Key": keys.daily_tokens(user_id, _day(now)),
                "UpdateExpression": "ADD #tokens :n SET #ttl = :ttl",
                "ExpressionAttributeNames": {"#tokens": "outputTokens", "#ttl": TTL_ATTRIBUTE},
                "ExpressionAttributeValues": {":n": {"N": str(int(output_tokens))}, ":ttl": {"N": str(expires)}},
            },
        )

    def settle_writes(self, user_id: str, request_id: str, output_tokens: int) -> list[Write]:
        """The end of an answer, whichever channel served it: its slot given back and its tokens charged."""
        return [
            write
            for write in (self.release_write(user_id, request_id), self.charge_write(user_id, output_tokens))
            if write is not None
        ]

    # The same, one operation at a time.

    def acquire(self, user_id: str, request_id: str, lease_seconds: float) -> None:
        """Take an in-flight slot (see `lease`), reading and writing until no concurrent change interferes."""
        self._take(user_id, request_id, lease_seconds, check_tokens=False)

    def admit(self, user_id: str, request_id: str, lease_seconds: float) -> int | None:
        """Before an answer, from one read per round: the output tokens left today (see `tokens_left`: refused when
        none are) and an in-flight slot taken (see `acquire`). None = no daily limit."""
        return self._take(user_id, request_id, lease_seconds, check_tokens=True)

    def _take(self, user_id: str, request_id: str, lease_seconds: float, *, check_tokens: bool) -> int | None:
        if self.limits.inflight == 0 and not check_tokens:
            return None
        for attempt in range(MAX_ACQUIRE_ATTEMPTS):
            snapshot = self.read(user_id)
            tokens_left = self.tokens_left(snapshot) if check_tokens else None
            write = self.lease(snapshot, request_id, lease_seconds)
            if write is None:
                return tokens_left
            try:
                self._table.write(write)
                return tokens_left
            except ConflictError:
                # Another admission or release of this user won the round: back off a little and read again.
                time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
            except StoreError as exc:
                raise QuotaUnavailableError(str(exc)) from exc
        raise QuotaExceededError(INFLIGHT, self.limits.inflight, CONTENDED_RETRY_AFTER_S)

    def release(self, user_id: str, request_id: str) -> None:
        """Give the slot back. Safe to call twice, or for a lease that already expired or was never taken."""
        write = self.release_write(user_id, request_id, strict=True)
        if write is None:
            return
        try:
            self._table.write(write)
        except ConflictError:
            pass
        except StoreError as exc:
            raise QuotaUnavailableError(str(exc)) from exc

    def check(self, user_id: str) -> int | None:
        """Before an answer: the output tokens left today (see `tokens_left`)."""
        return self.tokens_left(self.read(user_id))

    def add(self, user_id: str, output_tokens: int) -> None:
        """After an answer (whatever its outcome): count the output tokens it used today."""
        write = self.charge_write(user_id, output_tokens)
        if write is None:
            return
        try:
            self._table.write(write)
        except StoreError as exc:
            raise QuotaUnavailableError(str(exc)) from exc


def seconds_until_utc_midnight(now: float) -> int:
    return max(1, math.ceil(_next_utc_midnight(now) - now))


def _next_utc_midnight(now: float) -> int:
    today = datetime.fromtimestamp(now, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((today + timedelta(days=1)).timestamp())


def _day(now: float) -> str:
    return f"{datetime.fromtimestamp(now, tz=UTC):%Y-%m-%d}"
