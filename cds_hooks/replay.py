"""The JWT replay cache: a ``jti`` is accepted once per issuer within the token's lifetime.

``first_use(iss, jti, expires_at)`` records the pair and says whether it was
new, in one atomic step, so two replicas (or threads) given the same token at
the same moment can't both accept it:

- Redis (``CDS_REDIS_URL``): ``SET key 1 NX PX ttl``; every replica shares it,
  and Redis drops the key when the token has expired anyway.
- The database (otherwise): an insert into ``jwt_replay`` that skips an
  existing key; expired rows are purged now and then.
- Memory (tests and tools without a database): one process only.

Only a SHA-256 of issuer and ``jti`` is stored, never the token or its claims.
When the cache can't be reached the call is refused (``ReplayCacheUnavailable``,
a 503): accepting unchecked tokens would make replay protection optional.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import delete

from .storage.db import Database
from .storage.models import ReplayToken

log = logging.getLogger("cds_hooks.replay")


class ReplayCacheUnavailable(Exception):
    """The replay cache could not be consulted; the call can't be authenticated safely."""


def replay_key(iss: str, jti: str) -> str:
    """The stored form of a token id: hex SHA-256 of issuer and ``jti`` (NUL-separated)."""
    return hashlib.sha256(iss.encode("utf-8") + b"\0" + jti.encode("utf-8")).hexdigest()


class ReplayCache(Protocol):
    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        """Record (``iss``, ``jti``) until ``expires_at`` (epoch seconds); True if not seen before."""
        ...


class MemoryReplayCache:
    """Replay cache of one process (no database, no Redis)."""

    def __init__(self, *, max_entries: int = 1_000_000, clock=time.time) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._max = max_entries
        self._clock = clock

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        key = replay_key(iss, jti)
        now = self._clock()
        with self._lock:
            known = self._seen.get(key)
            if known is not None and known > now:
                return False
            if len(self._seen) >= self._max:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
                if len(self._seen) >= self._max:
                    raise ReplayCacheUnavailable("the in-memory replay cache is full")
            self._seen[key] = expires_at
            return True


class DatabaseReplayCache:
    """Replay cache in the ``jwt_replay`` table (SQLite or PostgreSQL), shared by every process
    using the same database."""

    def __init__(self, database: Database, *, purge_every: float = 60.0, clock=time.time) -> None:
        self.database = database
        self.purge_every = purge_every
        self._clock = clock
        self._last_purge = 0.0
        self._purge_lock = threading.Lock()

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        key = replay_key(iss, jti)
        now = self._clock()
        try:
            self._maybe_purge(now)
            inserted = self.database.insert_ignoring_duplicates(
                ReplayToken, [{"key": key, "expires_at": datetime.fromtimestamp(expires_at, UTC)}])
        except Exception as exc:  # any driver error: fail closed
            log.error("replay cache (database) failed", extra={"error": type(exc).__name__})
            raise ReplayCacheUnavailable("the replay cache (database) is unavailable") from None
        return inserted[0]

    def _maybe_purge(self, now: float) -> None:
        # Rows only matter until their token expires; drop them in one cheap
        # indexed delete every so often instead of on every call.
        if now - self._last_purge < self.purge_every or not self._purge_lock.acquire(blocking=False):
            return
        try:
            self._last_purge = now
            with self.database.session() as session:
                session.execute(delete(ReplayToken).where(
                    ReplayToken.expires_at < datetime.fromtimestamp(now, UTC)))
        finally:
            self._purge_lock.release()


class RedisReplayCache:
    """Replay cache in Redis, shared by every replica (``SET NX`` with an expiry)."""

    def __init__(self, url: str, *, prefix: str = "cds-hooks:jti:", timeout: float = 0.5,
                 clock=time.time) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._errors = (redis.RedisError,)
        self.prefix = prefix
        self._clock = clock

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        # At least one millisecond: Redis refuses an expiry of zero.
        ttl_ms = max(1, int((expires_at - self._clock()) * 1000))
        try:
            return bool(self._redis.set(self.prefix + replay_key(iss, jti), b"1", nx=True, px=ttl_ms))
        except self._errors as exc:
            log.error("replay cache (Redis) failed", extra={"error": type(exc).__name__})
            raise ReplayCacheUnavailable("the replay cache (Redis) is unavailable") from None

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()
