"""Redis connections: one bounded, fork-aware pool per process."""

from __future__ import annotations

import redis

from spotter.config import Settings


def connect(settings: Settings, *, max_connections: int | None = None) -> redis.Redis:
    """A client over a BlockingConnectionPool: callers wait for a free connection (up to the
    Redis timeout) instead of opening unbounded connections. redis-py's pool notices a fork
    (it checks the PID) and never hands a parent's socket to a child.
    """
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=max_connections or settings.redis_pool_size,
        timeout=settings.redis_timeout,
        socket_timeout=settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        health_check_interval=30,
    )
    return redis.Redis(connection_pool=pool)
