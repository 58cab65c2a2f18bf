"""Reads kept in this process until Redis says their keys changed (server-assisted caching).

One RESP3 connection per process asks Redis to push an invalidation for every write under the
tracked key prefixes (`CLIENT TRACKING ON BCAST PREFIX ...`). Every lookup first applies the
invalidations already received, so once Redis has sent one, no read of an older value is served.
Without a healthy tracking connection (Redis down or restarted, tracking refused, no answer to the
keep-alive PING) nothing is cached: every read goes to Redis.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import termios
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import redis
from redis.connection import AbstractConnection

log = logging.getLogger("spotter.store")

#: What `lookup` answers when the value is not cached.
MISS: Any = object()
_FIONREAD: int | None = getattr(termios, "FIONREAD", None)
#: Seconds between attempts when the server answers CLIENT TRACKING with an error.
REFUSED_RETRY = 60.0
_ERRORS = (redis.RedisError, OSError)


class ReadCache:
    """Values read from Redis, each dropped when any of the Redis keys it came from changes.

    Callers pair `lookup` (a hit, or MISS and a token) with `remember` (store what was read,
    with the token). A value whose keys changed between the two, or read while tracking was
    down, is never stored: the token no longer matches.
    """

    def __init__(
        self,
        connect: Callable[[], AbstractConnection],
        prefixes: Iterable[str],
        *,
        max_entries: int = 4096,
        ping_interval: float = 1.0,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self.prefixes = tuple(prefixes)
        self.max_entries = max_entries
        self.ping_interval = ping_interval
        self.retry_interval = retry_interval
        # Silence longer than this (no answered PING) means the tracking connection may be dead.
        self.max_silence = 3 * ping_interval + 2.0
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[Hashable, Any] = {}
        # Redis key -> the entries read from it, and entry -> its Redis keys.
        self._by_key: dict[bytes, set[Hashable]] = {}
        self._deps: dict[Hashable, tuple[bytes, ...]] = {}
        self._epoch = 0
        self._conn: AbstractConnection | None = None
        # The tracking socket's descriptor; None while there is no usable connection.
        self._fd: int | None = None
        # True while a thread reads the tracking connection: pushes may then sit in the parser's
        # buffer, invisible to a poll of the socket.
        self._reading = False
        self._alive_at = 0.0
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.hits = 0
        self.misses = 0
        self.invalidations = 0
        self.connects = 0

    # -- the read path ----------------------------------------------------------------------

    def lookup(self, key: Hashable) -> tuple[Any, int | None]:
        """(value, None) on a hit; (MISS, token) on a miss, token None if nothing may be kept.
        The first lookup starts the keeper thread."""
        value = self._peek(key)
        if value is not MISS:
            self.hits += 1
            return value, None
        with self._lock:
            if self._thread is None:
                self._start()
            if not self._tracking():
                self.misses += 1
                return MISS, None
            value = self._entries.get(key, MISS)
            if value is MISS:
                self.misses += 1
                return MISS, self._epoch
            self.hits += 1
            return value, None

    def remember(
        self, key: Hashable, redis_keys: Iterable[str], value: Any, token: int | None
    ) -> None:
        """Keep `value`, read from `redis_keys` after `lookup` gave `token`, if still valid."""
        if token is None:
            return
        with self._lock:
            if not self._tracking() or token != self._epoch:
                return
            if key not in self._entries and len(self._entries) >= self.max_entries:
                self._forget(next(iter(self._entries)))  # the oldest
            names = tuple(name.encode() for name in redis_keys)
            self._entries[key], self._deps[key] = value, names
            for name in names:
                self._by_key.setdefault(name, set()).add(key)

    def _peek(self, key: Hashable) -> Any:
        """The hit without taking the lock, when it is certain that no invalidation has arrived
        unapplied: no unread byte on the tracking socket, no thread in the middle of reading
        it (checked after the socket: a reader sets the flag before it takes bytes off the
        socket), and a recent answer to PING. Otherwise MISS: the locked path decides.

        A socket the server closed has no unread byte either: the keeper thread, woken by the
        close, drops everything as soon as it runs (a request may hit in between, as it would
        have a moment before the close)."""
        fd = self._fd
        if fd is None or self._reading or os.getpid() != self._pid:
            return MISS
        try:
            if _unread(fd):
                return MISS
        except (OSError, ValueError):
            return MISS
        if self._reading or self._clock() - self._alive_at > self.max_silence:
            return MISS
        return self._entries.get(key, MISS)

    def _tracking(self) -> bool:
        """Apply the invalidations received so far; True if the cache may be used. Locked."""
        conn = self._conn
        if conn is None or os.getpid() != self._pid:
            return False
        if not self._read(conn):
            return False
        if self._clock() - self._alive_at > self.max_silence:
            self._drop("tracking connection silent")
            return False
        return True

    def _read(self, conn: AbstractConnection, *, ping: bool = False) -> bool:
        """Apply every push received so far, after a PING's answer if `ping`. False when the
        connection failed (it is dropped). Locked."""
        self._reading = True
        try:
            if ping:
                conn.send_command("PING")
                conn.read_response()  # pushes ahead of the PONG are applied on the way
                self._alive_at = self._clock()
            # Until the parser's buffer and the socket are both empty.
            while conn.can_read(0):
                conn.read_response(push_request=True)
        except _ERRORS as exc:
            self._drop(f"tracking connection failed: {type(exc).__name__}")
            return False
        finally:
            self._reading = False
        return True

    # -- invalidation -----------------------------------------------------------------------

    def _on_invalidate(self, message: list[Any]) -> list[Any]:
        """A push from Redis: the keys that changed, or None when the whole db was flushed."""
        keys = message[1] if len(message) > 1 else None
        self._epoch += 1
        self.invalidations += 1
        if keys is None:
            self._clear()
        else:
            for name in keys:
                for key in list(self._by_key.get(bytes(name), ())):
                    self._forget(key)
        return message

    def _forget(self, key: Hashable) -> None:
        """Drop one entry and its links, in time proportional to its own Redis keys. Locked."""
        self._entries.pop(key, None)
        for name in self._deps.pop(key, ()):
            keys = self._by_key.get(name)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_key[name]

    def _clear(self) -> None:
        self._entries.clear()
        self._by_key.clear()
        self._deps.clear()

    def _drop(self, why: str | None) -> None:
        """Forget everything and the connection; the keeper thread reconnects. Locked."""
        conn, self._conn, self._fd = self._conn, None, None
        self._epoch += 1
        self._clear()
        if conn is not None:
            if why:
                log.warning("read cache off until Redis tracks again: %s", why)
            _close(conn)

    # -- the keeper thread ------------------------------------------------------------------

    def _start(self) -> None:
        """Start the thread that connects, reconnects and keeps the connection drained."""
        self._thread = threading.Thread(target=self._keep, name="redis-tracking", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the keeper thread and forget everything; later lookups are all misses."""
        self._stop.set()
        with self._lock:
            self._drop(None)  # closing the socket also wakes the keeper from select()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _keep(self) -> None:
        while not self._stop.is_set():
            conn = self._conn
            if conn is None:
                if not self._open():
                    self._stop.wait(self.retry_interval)
                continue
            sock = getattr(conn, "_sock", None)
            try:
                if sock is not None:
                    select.select([sock], [], [], self.ping_interval)
                else:
                    self._stop.wait(self.ping_interval)
            except (OSError, ValueError):
                pass  # the socket was closed under us: _tracking() below notices
            with self._lock:
                if self._conn is not conn or not self._tracking():
                    continue
                if self._clock() - self._alive_at >= self.ping_interval:
                    self._read(conn, ping=True)

    def _open(self) -> bool:
        """Connect and turn tracking on; True when the cache is usable again."""
        conn = None
        try:
            conn = self._connect()
            conn.connect()
            conn._parser.set_invalidation_push_handler(self._on_invalidate)  # type: ignore[attr-defined]
            command: list[str] = ["CLIENT", "TRACKING", "ON", "BCAST"]
            for prefix in self.prefixes:
                command += ["PREFIX", prefix]
            conn.send_command(*command)
            conn.read_response()
        except _ERRORS as exc:
            log.debug("read cache: cannot track: %s", exc)
            _close(conn)
            if isinstance(exc, redis.ResponseError):
                # This server (or a proxy in front of it) refuses tracking: ask again rarely.
                self._stop.wait(REFUSED_RETRY)
            return False
        with self._lock:
            if self._stop.is_set():
                _close(conn)
                return False
            self._epoch += 1
            self._clear()
            self._conn, self._alive_at = conn, self._clock()
            sock = getattr(conn, "_sock", None)
            self._fd = None if sock is None else sock.fileno()  # None: no lock-free hits
            self.connects += 1
        log.info("read cache on: Redis pushes invalidations for %s", ", ".join(self.prefixes))
        return True


# More than CPython's IOCTL_BUFSZ (1024): ioctl() then writes straight into this buffer without
# releasing the GIL (a smaller one is copied, and the call releases it).
_FIONREAD_BUFFER = 1025


def _unread(fd: int) -> bool:
    """Whether the socket holds bytes not read yet, without giving up the GIL. poll() gives it
    up: on a busy worker another thread takes it and this request waits to get it back (up to
    the 5 ms switch interval): lost throughput and long tails under load."""
    if _FIONREAD is None:
        poller = select.poll()  # one per call: a poll object cannot poll in two threads at once
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    buffer = bytearray(_FIONREAD_BUFFER)
    fcntl.ioctl(fd, _FIONREAD, buffer, True)
    return any(buffer[:4])


def _close(conn: AbstractConnection | None) -> None:
    if conn is None:
        return
    with contextlib.suppress(*_ERRORS):
        conn.disconnect()


def tracking_connection(client: redis.Redis) -> Callable[[], AbstractConnection]:
    """Makes connections like `client`'s pool does (address, auth, TLS, db, timeouts), but
    speaking RESP3, which carries invalidation pushes on the connection that asked for them."""
    pool = client.connection_pool
    kwargs = {
        name: value
        for name, value in pool.connection_kwargs.items()
        # Bookkeeping of the pool's own connections, not settings of a connection.
        if not name.startswith(("maint_notifications", "orig_"))
    }
    kwargs["protocol"] = 3
    return lambda: pool.connection_class(**kwargs)
