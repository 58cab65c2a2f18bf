"""What every resource is built with: the worker's Store, the settings and a clock."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import falcon

from spotter.config import Settings
from spotter.store import Store


class StoreHandle:
    """The Store of this process, made on first use. A Store made before a fork is never used
    after it: a child that finds another pid's Store makes its own (its own connection pool)."""

    def __init__(self, factory: Callable[[], Store]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._pid = 0

    @classmethod
    def of(cls, store: Store) -> StoreHandle:
        handle = cls(lambda: store)
        handle._store, handle._pid = store, os.getpid()
        return handle

    def get(self) -> Store:
        store, pid = self._store, os.getpid()
        if store is not None and self._pid == pid:
            return store
        with self._lock:
            if self._store is None or self._pid != pid:
                self._store, self._pid = self._factory(), pid
            return self._store


@dataclass(frozen=True, slots=True)
class Deps:
    stores: StoreHandle
    settings: Settings
    clock: Callable[[], float]

    @property
    def store(self) -> Store:
        return self.stores.get()


#: The methods every route answers; any other is a 405.
ALLOWED = ("GET", "HEAD")


class ReadOnly:
    """GET, and HEAD: the same answer without its body. OPTIONS is refused like any other
    method: the API is read-only and serves no browser preflights."""

    #: The query parameters the route takes; any other is a 400 (params.KnownQuery).
    QUERY: tuple[str, ...] = ()

    def on_head(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        # Falcon sends no body for HEAD and keeps the Content-Length of the one made here.
        self.on_get(req, resp, **params)  # type: ignore[attr-defined]

    def on_options(self, req: falcon.Request, resp: falcon.Response, **_: str) -> None:
        raise falcon.HTTPMethodNotAllowed(list(ALLOWED))


class Resource(ReadOnly):
    """Base of the resources that read the store."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
