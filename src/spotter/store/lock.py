"""A per-region lock so that fetchers with overlapping regions don't both call AWS."""

from __future__ import annotations

import secrets

import redis

from spotter.store.scripts import EXTEND_LOCK, RELEASE_LOCK


class RegionLock:
    """A Redis lock with an owner token and a TTL. Losing it (TTL ran out) is reported, not
    hidden: `release()` answers False when another holder owns the key by then."""

    def __init__(self, client: redis.Redis, key: str, ttl: float) -> None:
        self._client = client
        self.key = key
        self.ttl_ms = max(1, int(ttl * 1000))
        self.token = secrets.token_hex(16)
        self._release = client.register_script(RELEASE_LOCK)
        self._extend = client.register_script(EXTEND_LOCK)

    def acquire(self) -> bool:
        return bool(self._client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def extend(self) -> bool:
        return bool(self._extend(keys=[self.key], args=[self.token, self.ttl_ms]))

    def release(self) -> bool:
        return bool(self._release(keys=[self.key], args=[self.token]))

    def holder(self) -> str | None:
        value = self._client.get(self.key)
        return value.decode() if isinstance(value, bytes) else value
