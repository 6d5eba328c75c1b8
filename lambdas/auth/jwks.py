"""The issuer's signing keys (JWKS), cached per execution environment and fetched as rarely as possible.

One `JwksCache` per JWKS source lives at module level, so warm invocations never fetch. A fetch happens only when
the cache is empty, older than JWKS_MAX_AGE_S, or a token names an unknown `kid` (key rotation) — and that last
kind at most once per MIN_REFRESH_INTERVAL_S, so tokens with made-up kids cannot make us hammer the issuer.
Fetches use urllib3 (shipped with botocore: no extra dependency) with short timeouts and no redirects.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import urllib3

from lambdas.auth.config import AuthSettings, check_fetchable
from lambdas.auth.exceptions import AuthNotConfiguredError, JwksUnavailableError, UnknownKeyError
from lambdas.observability import logger

JWKS_MAX_AGE_S = 3600.0
"""Keys older than this are fetched again (picks up rotations and removals within the hour)."""
MIN_REFRESH_INTERVAL_S = 60.0
"""An unknown `kid` triggers a fetch only if the last one is at least this old."""
RETRY_AFTER_FAILURE_S = 5.0
"""After a failed fetch, callers are refused for this long without a new attempt (no retry storm)."""
MAX_STALE_S = 6 * 3600.0
"""While the issuer is unreachable, expired keys keep verifying for this long after their last good fetch."""
MAX_DOCUMENT_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 3.0

Jwk = Mapping[str, Any]
Fetch = Callable[[str], Any]
"""`url -> parsed JSON`; raises JwksUnavailableError."""
Clock = Callable[[], float]


@cache
def _pool() -> urllib3.PoolManager:
    # retries=False: one attempt within the authorizer's budget; the cache's own back-off decides the next one.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
        retries=False,
        headers={"Accept": "application/json"},
    )


def fetch_json(url: str) -> Any:
    """GET a small JSON document. Redirects are refused: one could lead off TLS or to another host."""
    try:
        response = _pool().request("GET", url, preload_content=False, redirect=False)
        try:
            if response.status != 200:
                raise JwksUnavailableError(f"GET {url} answered HTTP {response.status}")
            body = response.read(MAX_DOCUMENT_BYTES + 1)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise JwksUnavailableError(f"GET {url} failed: {type(exc).__name__}") from exc
    if len(body) > MAX_DOCUMENT_BYTES:
        raise JwksUnavailableError(f"GET {url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise JwksUnavailableError(f"GET {url}: not JSON") from exc


def parse_jwks(document: Any) -> dict[str, Jwk]:
    """`{"keys": [...]}` → signing keys by kid. Keys without a kid or meant for encryption are skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksUnavailableError("the JWKS document has no `keys` list")
    keys: dict[str, Jwk] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("use", "sig") != "sig":
            continue
        keys.setdefault(jwk["kid"], dict(jwk))
    return keys


class JwksCache:
    """The signing keys of one issuer. Thread-safe: localgw runs many invocations in one process."""

    def __init__(
        self,
        *,
        jwks_url: str | None,
        issuer: str,
        discovery_url: str | None = None,
        fetch: Fetch = fetch_json,
        clock: Clock = time.monotonic,
    ) -> None:
        if jwks_url is None and discovery_url is None:
            raise ValueError("a JWKS URL or a discovery URL is needed")
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._discovery_url = discovery_url
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, Jwk] | None = None
        self._fetched_at = 0.0
        self._attempted_at: float | None = None
        self._failed_at: float | None = None
        self.fetches = 0
        """Fetch attempts so far (JWKS and discovery): for tests and logs."""

    def key(self, kid: str) -> Jwk:
        """The JWK for `kid`. Raises UnknownKeyError, or JwksUnavailableError when there are no usable keys."""
        keys = self._keys
        # Fast path, no lock: fresh keys that know this kid.
        if keys is not None and kid in keys and self._clock() - self._fetched_at < JWKS_MAX_AGE_S:
            return keys[kid]
        with self._lock:
            now = self._clock()
            if self._keys is None or now - self._fetched_at >= JWKS_MAX_AGE_S:
                self._refresh_expired(now)
            elif kid not in self._keys and self._may_refresh_for_unknown_kid(now):
                self._refresh_for_unknown_kid(now)
            assert self._keys is not None
            if kid not in self._keys:
                raise UnknownKeyError(f"kid {_short(kid)} is not in the issuer's JWKS")
            return self._keys[kid]

    def _may_refresh_for_unknown_kid(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= MIN_REFRESH_INTERVAL_S

    def _refresh_expired(self, now: float) -> None:
        try:
            self._refresh(now)
        except JwksUnavailableError:
            if self._keys is None or now - self._fetched_at >= MAX_STALE_S:
                raise
            logger.warning("JWKS refresh failed; still using the keys fetched earlier", extra={"source": self._source})

    def _refresh_for_unknown_kid(self, now: float) -> None:
        try:
            self._refresh(now)
        except JwksUnavailableError:
            # The known keys stay valid; this token's kid is simply unknown (reported by the caller).
            logger.warning("JWKS refresh for an unknown kid failed", extra={"source": self._source})

    def _refresh(self, now: float) -> None:
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE_S:
            raise JwksUnavailableError("the last JWKS fetch failed moments ago; not retrying yet")
        self._attempted_at = now
        try:
            keys = parse_jwks(self._fetch_counted(self._resolve_jwks_url()))
        except JwksUnavailableError:
            self._failed_at = now
            raise
        self._keys = keys
        self._fetched_at = now
        self._failed_at = None
        logger.info("JWKS fetched", extra={"source": self._source, "keys": len(keys)})

    def _resolve_jwks_url(self) -> str:
        if self._jwks_url is not None:
            return self._jwks_url
        assert self._discovery_url is not None
        document = self._fetch_counted(self._discovery_url)
        if not isinstance(document, Mapping) or not isinstance(document.get("jwks_uri"), str):
            raise JwksUnavailableError("the OpenID configuration has no `jwks_uri`")
        # OpenID Connect Discovery 1.0 §4.3: the document's issuer must be exactly the one it was fetched for.
        if document.get("issuer") != self._issuer:
            raise JwksUnavailableError("the OpenID configuration names another issuer")
        try:
            check_fetchable(document["jwks_uri"], "jwks_uri")
        except AuthNotConfiguredError as exc:
            raise JwksUnavailableError(str(exc)) from exc
        self._jwks_url = document["jwks_uri"]
        return self._jwks_url

    def _fetch_counted(self, url: str) -> Any:
        self.fetches += 1
        return self._fetch(url)

    @property
    def _source(self) -> str:
        return self._jwks_url or self._discovery_url or ""


def cache_for(settings: AuthSettings) -> JwksCache:
    """The module-level cache for these settings' key source: shared by every invocation of this environment."""
    if settings.jwks_url is not None:
        return _cache(settings.jwks_url, None, settings.issuer)
    if settings.oidc_discovery:
        return _cache(None, settings.discovery_url, settings.issuer)
    return _cache(settings.default_jwks_url, None, settings.issuer)


@cache
def _cache(jwks_url: str | None, discovery_url: str | None, issuer: str) -> JwksCache:
    # A functools cache on purpose: localgw empties every such cache in `lambdas` when a gateway starts or stops
    # (a new deployment means new execution environments), so a restarted dev issuer's new key is seen at once.
    return JwksCache(jwks_url=jwks_url, discovery_url=discovery_url, issuer=issuer)


def clear_caches() -> None:
    """Forget every cached key set (tests; a new execution environment in localgw)."""
    _cache.cache_clear()


def _short(value: str) -> str:
    # kids are attacker-chosen: keep what reaches the logs short.
    return repr(value if len(value) <= 64 else value[:64] + "…")
