"""The Store: every read and write Spotter makes to Redis, in a constant number of round trips."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import redis

from spotter.config import Settings
from spotter.model import PRODUCTS, HistoryPoint, RegionPrices, RegionStatus, Snapshot
from spotter.store.codec import (
    decode_history_member,
    decode_region_prices,
    decode_zone_prices_brief,
    encode_history_member,
    encode_region_prices,
)
from spotter.store.connection import connect
from spotter.store.keys import Keys
from spotter.store.lock import RegionLock
from spotter.store.scripts import RECORD_SUCCESS, WRITE_SNAPSHOT
from spotter.store.tracking import MISS, ReadCache, tracking_connection

P = ParamSpec("P")
R = TypeVar("R")


class StoreUnavailable(RuntimeError):
    """Redis could not be reached or answered with an error; the caller should retry later."""


def _guarded(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
            raise StoreUnavailable(f"redis unavailable: {type(exc).__name__}") from exc
        except redis.ResponseError as exc:
            raise StoreUnavailable(f"redis error: {exc}") from exc

    return wrapper


@dataclass(frozen=True, slots=True)
class WriteResult:
    written: int
    skipped: int
    quotes: int


@dataclass(frozen=True, slots=True)
class SpotPricesView:
    """Everything the API needs to answer /spot-prices for one (region, type, product)."""

    prices: RegionPrices | None
    status: RegionStatus
    watched: bool
    catalog_status: str | None
    catalog_known: bool
    region_fetched: bool
    #: What callers derive from this view, kept as long as it (a cached view lives until Redis
    #: changes one of its keys). Never part of equality.
    memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class BestPriceView:
    """Every region's prices for one (type, product), and the regions being watched."""

    entries: dict[str, RegionPrices]
    watched: frozenset[str]
    statuses: dict[str, RegionStatus]
    #: As SpotPricesView.memo.
    memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StoredIndex:
    """What the store holds, without the prices: every watched region's status, the catalog,
    and per (product, region) the instance types stored with the fetch time of each."""

    statuses: dict[str, RegionStatus]
    catalog: dict[str, str]
    stored: dict[tuple[str, str], dict[str, float]]

    def quote_keys(self) -> list[tuple[str, str]]:
        """Every (product, instance type) some region holds quotes of, sorted."""
        return sorted({(p, t) for (p, _), types in self.stored.items() for t in types})

    def version(self) -> int:
        """Changes whenever a quote is written: every write stamps its type's fetch time."""
        return hash(tuple(sorted((k, tuple(sorted(v.items()))) for k, v in self.stored.items())))


#: One zone's quote as a scrape reads it: product, type, region, zone, zone id, price text.
PriceRow = tuple[str, str, str, str, str | None, str]


class Store:
    """Spotter's Redis schema behind typed methods. Safe to share between threads."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "spotter",
        history_retention: float = 7 * 86400.0,
        read_cache: ReadCache | None = None,
    ) -> None:
        self.client = client
        self.keys = Keys(prefix)
        self.history_retention = history_retention
        #: Keeps the API's views until Redis pushes an invalidation (store/tracking.py).
        self.read_cache = read_cache
        self._write_snapshot = client.register_script(WRITE_SNAPSHOT)
        self._record_success = client.register_script(RECORD_SUCCESS)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        max_connections: int | None = None,
        read_cache: bool | None = None,
    ) -> Store:
        """A Store over a new pool. The read cache (default: settings.read_cache) costs nothing
        until a cached view is first read: fetchers and the operator never start it."""
        client = connect(settings, max_connections=max_connections)
        keys = Keys(settings.redis_prefix)
        cache = None
        if settings.read_cache if read_cache is None else read_cache:
            cache = ReadCache(tracking_connection(client), keys.cached_read_prefixes())
        return cls(
            client,
            prefix=settings.redis_prefix,
            history_retention=settings.history_retention,
            read_cache=cache,
        )

    # -- health -----------------------------------------------------------------------------

    @_guarded
    def ping(self) -> bool:
        return bool(self.client.ping())

    @_guarded
    def probe(self) -> int:
        """Ping in one round trip and return the CLIENT ID of the connection that answered."""
        pipe = self.client.pipeline(transaction=False)
        pipe.ping()
        pipe.client_id()
        _, client_id = pipe.execute()
        return int(client_id)

    def close(self) -> None:
        if self.read_cache is not None:
            self.read_cache.close()
        self.client.close()
        self.client.connection_pool.disconnect()

    # -- writes (fetchers) ------------------------------------------------------------------

    @_guarded
    def write_snapshot(self, snapshot: Snapshot) -> WriteResult:
        """Write one (region, product) snapshot atomically; older fetches never win."""
        keys = [
            self.keys.snapshot(snapshot.product, snapshot.region),
            self.keys.freshness(snapshot.product, snapshot.region),
        ]
        args: list[str | float | int] = [
            repr(snapshot.fetched_at.timestamp()),
            snapshot.source,
            snapshot.region,
            int(self.history_retention),
            0,
            uuid.uuid4().hex,
        ]
        ntypes = 0
        for instance_type, zones in snapshot.by_type().items():
            keys.append(self.keys.quotes(snapshot.product, instance_type))
            keys.append(self.keys.history(snapshot.product, snapshot.region, instance_type))
            entry = encode_region_prices(snapshot.fetched_at.timestamp(), snapshot.source, zones)
            args += [instance_type, entry, len(zones), len(zones)]
            for zone in zones:
                member, score = encode_history_member(zone)
                args += [score, member]
            ntypes += 1
        args[4] = ntypes
        written, skipped, quotes = self._write_snapshot(keys=keys, args=args)
        return WriteResult(int(written), int(skipped), int(quotes))

    @_guarded
    def record_success(self, region: str, at: float, quotes: int) -> bool:
        key = self.keys.region_status(region)
        return bool(self._record_success(keys=[key], args=[repr(at), quotes]))

    @_guarded
    def record_error(
        self,
        region: str,
        kind: str,
        message: str,
        at: float,
        *,
        next_check: float | None = None,
    ) -> None:
        """Remember a failed attempt. Stored prices are kept: the last good data stays."""
        key = self.keys.region_status(region)
        fields: dict[str, str] = {
            "state": kind if kind in ("not_enabled", "unauthorized", "throttled") else "error",
            "last_attempt": repr(at),
            "last_error_kind": kind,
            "last_error_message": message[:500],
            "last_error_at": repr(at),
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        if next_check is not None:
            pipe.hset(key, "next_check", repr(next_check))
        pipe.execute()

    @_guarded
    def mark_watched(self, regions: Iterable[str]) -> None:
        regions = list(regions)
        if regions:
            self.client.sadd(self.keys.watched(), *regions)

    @_guarded
    def set_catalog(self, statuses: dict[str, str]) -> None:
        """Record every region the account can see and its opt-in status."""
        if statuses:
            self.client.hset(self.keys.catalog(), mapping=statuses)

    @_guarded
    def type_freshness(self, region: str, product: str, types: list[str]) -> dict[str, float]:
        """When each type was last stored for (region, product); absent types are left out."""
        values = self.client.hmget(self.keys.freshness(product, region), types)
        return {t: float(v) for t, v in zip(types, values, strict=True) if v is not None}

    def lock(self, region: str, ttl: float) -> RegionLock:
        return RegionLock(self.client, self.keys.lock(region), ttl)

    # -- reads (API, operator) --------------------------------------------------------------

    def _cached(
        self,
        key: tuple[str, ...],
        redis_keys: Callable[[], tuple[str, ...]],
        load: Callable[[], R],
    ) -> R:
        """`load()`, or what it gave before if Redis has pushed no change of `redis_keys()`
        since. Cached values are shared between threads: callers never mutate them."""
        cache = self.read_cache
        if cache is None:
            return load()
        value, token = cache.lookup(key)
        if value is MISS:
            value = load()
            cache.remember(key, redis_keys(), value, token)
        return value

    @_guarded
    def spot_prices_view(self, region: str, instance_type: str, product: str) -> SpotPricesView:
        """One round trip (none while cached): the prices, the region's status and whether
        anything knows it."""
        k = self.keys
        return self._cached(
            ("spot", region, instance_type, product),
            lambda: (
                k.quotes(product, instance_type),
                k.region_status(region),
                k.watched(),
                k.catalog(),
                k.freshness(product, region),
            ),
            lambda: self._spot_prices_view(region, instance_type, product),
        )

    def _spot_prices_view(self, region: str, instance_type: str, product: str) -> SpotPricesView:
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.quotes(product, instance_type), region)
        pipe.hgetall(self.keys.region_status(region))
        pipe.sismember(self.keys.watched(), region)
        pipe.hget(self.keys.catalog(), region)
        pipe.exists(self.keys.catalog())
        pipe.exists(self.keys.freshness(product, region))
        raw, status, watched, catalog_status, catalog_known, fetched = pipe.execute()
        prices = (
            decode_region_prices(raw, region=region, instance_type=instance_type, product=product)
            if raw is not None
            else None
        )
        return SpotPricesView(
            prices=prices,
            status=_decode_status(region, status),
            watched=bool(watched),
            catalog_status=catalog_status.decode() if catalog_status else None,
            catalog_known=bool(catalog_known),
            region_fetched=bool(fetched),
        )

    @_guarded
    def best_price_view(self, instance_type: str, product: str) -> BestPriceView:
        """One round trip (none while cached) whatever the number of regions: the type's hash
        and the watch set."""
        return self._cached(
            ("best", instance_type, product),
            lambda: (self.keys.quotes(product, instance_type), self.keys.watched()),
            lambda: self._best_price_view(instance_type, product),
        )

    def _best_price_view(self, instance_type: str, product: str) -> BestPriceView:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.quotes(product, instance_type))
        pipe.smembers(self.keys.watched())
        raw_entries, watched = pipe.execute()
        entries = {}
        for raw_region, raw in raw_entries.items():
            region = raw_region.decode()
            entries[region] = decode_region_prices(
                raw, region=region, instance_type=instance_type, product=product
            )
        return BestPriceView(
            entries=entries, watched=frozenset(r.decode() for r in watched), statuses={}
        )

    @_guarded
    def watched_regions(self) -> set[str]:
        return {r.decode() for r in self.client.smembers(self.keys.watched())}

    @_guarded
    def catalog(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.client.hgetall(self.keys.catalog()).items()}

    @_guarded
    def region_statuses(self, regions: Iterable[str] | None = None) -> dict[str, RegionStatus]:
        """Status of the given regions (default: every watched region), one round trip."""
        names = sorted(self.watched_regions() if regions is None else set(regions))
        pipe = self.client.pipeline(transaction=False)
        for region in names:
            pipe.hgetall(self.keys.region_status(region))
        return {
            region: _decode_status(region, raw)
            for region, raw in zip(names, pipe.execute(), strict=True)
        }

    @_guarded
    def stored_index(self) -> StoredIndex:
        """Statuses, catalog and stored types of every watched region: two round trips
        whatever the number of regions and types."""
        pipe = self.client.pipeline(transaction=False)
        pipe.smembers(self.keys.watched())
        pipe.hgetall(self.keys.catalog())
        raw_watched, raw_catalog = pipe.execute()
        regions = sorted(r.decode() for r in raw_watched)
        pipe = self.client.pipeline(transaction=False)
        for region in regions:
            pipe.hgetall(self.keys.region_status(region))
        pairs = [(product, region) for product in PRODUCTS for region in regions]
        for product, region in pairs:
            pipe.hgetall(self.keys.freshness(product, region))
        replies = pipe.execute()
        statuses = {
            region: _decode_status(region, raw)
            for region, raw in zip(regions, replies[: len(regions)], strict=True)
        }
        stored = {
            pair: {k.decode(): float(v) for k, v in raw.items()}
            for pair, raw in zip(pairs, replies[len(regions) :], strict=True)
            if raw
        }
        catalog = {k.decode(): v.decode() for k, v in raw_catalog.items()}
        return StoredIndex(statuses, catalog, stored)

    @_guarded
    def price_rows(self, quote_keys: Iterable[tuple[str, str]]) -> list[PriceRow]:
        """Every zone's quote of the given (product, instance type)s in every region: one
        round trip, rows sorted by product, type, region, then cheapest first."""
        keys = list(quote_keys)
        pipe = self.client.pipeline(transaction=False)
        for product, instance_type in keys:
            pipe.hgetall(self.keys.quotes(product, instance_type))
        rows: list[PriceRow] = []
        for (product, instance_type), entries in zip(keys, pipe.execute(), strict=True):
            for raw_region in sorted(entries):
                region = raw_region.decode()
                for zone, zone_id, price in decode_zone_prices_brief(entries[raw_region]):
                    rows.append((product, instance_type, region, zone, zone_id, price))
        return rows

    @_guarded
    def snapshot_meta(self, region: str, product: str) -> dict[str, str]:
        raw = self.client.hgetall(self.keys.snapshot(product, region))
        return {k.decode(): v.decode() for k, v in raw.items()}

    @_guarded
    def history(
        self,
        region: str,
        instance_type: str,
        product: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        zone: str | None = None,
        limit: int = 10_000,
    ) -> list[HistoryPoint]:
        """Recorded price changes, oldest first, optionally for one zone name or zone id."""
        low = since.timestamp() if since else "-inf"
        high = until.timestamp() if until else "+inf"
        raw = self.client.zrangebyscore(
            self.keys.history(product, region, instance_type), low, high, start=0, num=limit
        )
        points = [decode_history_member(member) for member in raw]
        if zone:
            points = [p for p in points if zone in (p.zone, p.zone_id)]
        return points


def _decode_status(region: str, raw: dict[bytes, bytes]) -> RegionStatus:
    if not raw:
        return RegionStatus(region=region)
    text = {k.decode(): v.decode() for k, v in raw.items()}

    def number(name: str) -> float | None:
        return float(text[name]) if name in text else None

    return RegionStatus(
        region=region,
        state=text.get("state", "pending"),
        last_success=number("last_success"),
        last_attempt=number("last_attempt"),
        last_error_kind=text.get("last_error_kind"),
        last_error_message=text.get("last_error_message"),
        last_error_at=number("last_error_at"),
        quotes=int(text.get("quotes", "0")),
        next_check=number("next_check"),
    )


def now() -> float:
    """Wall-clock seconds; one place to read the clock for fetched_at stamps."""
    return time.time()
