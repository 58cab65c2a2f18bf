"""The Fetcher: one cycle over its regions in parallel, and the loop that repeats it."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from botocore.client import BaseClient

from spotter.aws.client import ec2_client
from spotter.aws.errors import AwsError, classify
from spotter.aws.regions import NOT_OPTED_IN, list_regions, zone_ids
from spotter.aws.spot import RegionFetch, fetch_region
from spotter.config import Settings
from spotter.fetcher.metrics import FetcherMetrics
from spotter.fetcher.outcome import (
    FAILED,
    OK,
    SKIPPED_FRESH,
    SKIPPED_LOCKED,
    SKIPPED_NOT_ENABLED,
    SKIPPED_UNKNOWN,
    CycleReport,
    RegionOutcome,
)
from spotter.model import ERROR_NOT_ENABLED, ERROR_OTHER, ERROR_THROTTLED, Snapshot
from spotter.store import Store, StoreUnavailable

log = logging.getLogger("spotter.fetcher")

ClientFactory = Callable[[Settings, str], BaseClient]
ZONE_MAP_MAX_AGE = 24 * 3600.0
CATALOG_MAX_AGE = 6 * 3600.0
# A type stored by any fetcher within this share of the interval is not fetched again: two
# fetchers watching the same (region, type) make one set of AWS calls per interval.
FRESH_SHARE = 0.5


class Fetcher:
    """Fetches spot prices for a fixed set of regions (or all enabled ones) into the Store."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        regions: Sequence[str] = (),
        instance_types: Sequence[str] | None = None,
        products: Sequence[str] | None = None,
        interval: float | None = None,
        client_factory: ClientFactory = ec2_client,
        clock: Callable[[], float] = time.time,
        throttle_retries: int = 1,
        backoff_base: float = 2.0,
        lock_wait: float = 5.0,
        lock_ttl: float | None = None,
        metrics: FetcherMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.explicit_regions = tuple(regions)
        self.instance_types = tuple(instance_types or settings.instance_types)
        self.products = tuple(products or settings.products)
        self.interval = float(interval or settings.update_interval)
        self.client_factory = client_factory
        self.clock = clock
        self.throttle_retries = throttle_retries
        self.backoff_base = backoff_base
        self.lock_wait = lock_wait
        self.metrics = metrics
        # Long enough for a slow fetch; a holder that dies frees the region within it.
        self.lock_ttl = lock_ttl or max(30.0, min(self.interval, 900.0))
        self.cycles = 0
        self._clients: dict[str, BaseClient] = {}
        self._clients_lock = threading.Lock()
        self._zone_maps: dict[str, tuple[float, dict[str, str]]] = {}
        self._catalog: dict[str, str] = {}
        self._catalog_at: float | None = None
        self._not_enabled_until: dict[str, float] = {}

    # -- regions ----------------------------------------------------------------------------

    def client(self, region: str) -> BaseClient:
        with self._clients_lock:
            if region not in self._clients:
                client = self.client_factory(self.settings, region)
                if self.metrics is not None:
                    self.metrics.instrument(client, region)
                self._clients[region] = client
            return self._clients[region]

    def regions(self) -> list[str]:
        """The regions of this cycle: the explicit list, or every region enabled for the
        account (DescribeRegions, refreshed every few hours)."""
        now = self.clock()
        if self._catalog_at is None or now - self._catalog_at > CATALOG_MAX_AGE:
            self._refresh_catalog(now)
        if self.explicit_regions:
            return list(self.explicit_regions)
        if not self._catalog:
            raise AwsError("other", "NoRegions", "region discovery failed; no regions to fetch")
        return sorted(r for r, status in self._catalog.items() if status != NOT_OPTED_IN)

    def _refresh_catalog(self, now: float) -> None:
        home = self.explicit_regions[0] if self.explicit_regions else "us-east-1"
        home = self.settings.extra.get("SPOTTER_DISCOVERY_REGION", home)
        try:
            catalog = list_regions(self.client(home))
        except AwsError as exc:
            # Explicit regions still work without discovery (a narrow IAM policy may lack
            # ec2:DescribeRegions); "all" cannot.
            log.warning(
                "region discovery failed (%s); %s",
                exc,
                "using the explicit region list" if self.explicit_regions else "will retry",
            )
            self._catalog_at = now if self.explicit_regions else None
            return
        self._catalog, self._catalog_at = catalog, now
        try:
            self.store.set_catalog(catalog)
        except StoreUnavailable as exc:
            log.warning("could not record the region catalog: %s", exc)

    def _rewrite_if_store_lost(self) -> None:
        """A Redis that restarted empty lost the catalog and the "not enabled" statuses, which
        are written rarely: write the catalog again and re-record (or recheck) those regions,
        instead of leaving them unknown or pending for hours."""
        if not self._catalog or self.store.catalog():
            return
        log.warning("the store lost the region catalog (Redis restarted empty?); rewriting it")
        self.store.set_catalog(self._catalog)
        self._not_enabled_until.clear()

    def _zone_map(self, region: str, now: float) -> dict[str, str] | None:
        cached = self._zone_maps.get(region)
        if cached and now - cached[0] < ZONE_MAP_MAX_AGE:
            return cached[1]
        try:
            mapping = zone_ids(self.client(region), region)
        except AwsError as exc:
            log.info("%s: no zone map (%s); zone ids come from the price records", region, exc)
            return cached[1] if cached else None
        self._zone_maps[region] = (now, mapping)
        return mapping

    # -- one cycle --------------------------------------------------------------------------

    def run_cycle(self) -> CycleReport:
        """Fetch every region once, in parallel; one failing region never delays the others
        beyond its own timeouts and never erases their data."""
        self.cycles += 1
        report = CycleReport(self.cycles)
        started = time.monotonic()
        try:
            regions = self.regions()
            # The catalog first: while a store emptied by a Redis restart is refilled, the API
            # must not find regions watched before it can tell the unwatched from the unknown.
            self._rewrite_if_store_lost()
            self.store.mark_watched(regions)
        except (AwsError, StoreUnavailable) as exc:
            log.error("cycle %d: cannot start: %s", self.cycles, exc)
            report.seconds = time.monotonic() - started
            return report
        workers = max(1, min(self.settings.fetch_concurrency, len(regions)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
            report.outcomes = list(pool.map(self.fetch_one, regions))
        report.seconds = time.monotonic() - started
        log.info("%s", report.summary())
        if self.metrics is not None:
            self.metrics.cycle_done(report)
        return report

    def fetch_one(self, region: str) -> RegionOutcome:
        started = time.monotonic()
        try:
            outcome = self._fetch_one(region)
        except StoreUnavailable as exc:
            outcome = RegionOutcome(region, FAILED, detail=f"redis: {exc}")
        except Exception as exc:  # a bug in one region must not take down the others
            log.exception("%s: unexpected failure", region)
            error = classify(exc, region)
            outcome = RegionOutcome(region, FAILED, error=error)
            # The status must say it failed, or it would go on reading "ok" with old data.
            with contextlib.suppress(StoreUnavailable):
                self.store.record_error(region, error.kind, str(error), self.clock())
        outcome.seconds = time.monotonic() - started
        if self.metrics is not None:
            self.metrics.region_done(outcome)
        return outcome

    def _fetch_one(self, region: str) -> RegionOutcome:
        now = self.clock()
        if self._catalog and region not in self._catalog:
            # A typo such as us-east-7 would otherwise be called and reported as an
            # authentication failure; the catalog is refreshed every few hours.
            self.store.record_error(
                region,
                ERROR_OTHER,
                f"{region} is not a region of this account (DescribeRegions does not list it)",
                now,
            )
            return RegionOutcome(region, SKIPPED_UNKNOWN, detail="not listed by DescribeRegions")
        if self._catalog.get(region) == NOT_OPTED_IN and not self._not_enabled_until.get(region):
            self._not_enabled_until[region] = now + self.settings.not_enabled_recheck
            self.store.record_error(
                region,
                ERROR_NOT_ENABLED,
                "region not enabled for the account (DescribeRegions: not-opted-in)",
                now,
                next_check=self._not_enabled_until[region],
            )
        until = self._not_enabled_until.get(region)
        if until is not None and now < until:
            return RegionOutcome(region, SKIPPED_NOT_ENABLED, detail="rechecked later")
        lock = self.store.lock(region, ttl=self.lock_ttl)
        if not self._acquire(lock):
            return RegionOutcome(region, SKIPPED_LOCKED, detail="another fetcher holds the lock")
        try:
            due = self._due_types(region, self.clock())
            if not due:
                return RegionOutcome(region, SKIPPED_FRESH, detail="stored by another fetcher")
            return self._fetch_and_store(region, due)
        finally:
            if not lock.release():
                log.warning(
                    "%s: the region lock expired before release; a newer fetch may "
                    "have run meanwhile (its data is kept)",
                    region,
                )

    def _acquire(self, lock: object) -> bool:
        deadline = time.monotonic() + self.lock_wait
        while True:
            if lock.acquire():  # type: ignore[attr-defined]
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.2)

    def _due_types(self, region: str, now: float) -> list[str]:
        threshold = now - self.interval * FRESH_SHARE
        due: set[str] = set()
        for product in self.products:
            fresh = self.store.type_freshness(region, product, list(self.instance_types))
            due.update(t for t in self.instance_types if fresh.get(t, 0.0) < threshold)
        return [t for t in self.instance_types if t in due]

    def _fetch_and_store(self, region: str, types: list[str]) -> RegionOutcome:
        attempt = 0
        while True:
            fetched_at = self.clock()
            try:
                fetch = fetch_region(
                    self.client(region),
                    region,
                    types,
                    self.products,
                    now=datetime.fromtimestamp(fetched_at, UTC),
                    zone_ids=self._zone_map(region, fetched_at),
                    region_enabled=self._region_enabled(region),
                )
                break
            except AwsError as exc:
                if exc.kind == ERROR_THROTTLED and attempt < self.throttle_retries:
                    attempt += 1
                    delay = self.backoff_base * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
                    log.warning("%s: throttled; retrying in %.1fs", region, delay)
                    time.sleep(min(delay, self.interval / 4))
                    continue
                return self._failed(region, exc)
        return self._store(region, types, fetch, fetched_at)

    def _region_enabled(self, region: str) -> bool | None:
        status = self._catalog.get(region)
        return None if status is None else status != NOT_OPTED_IN

    def _store(
        self, region: str, types: list[str], fetch: RegionFetch, fetched_at: float
    ) -> RegionOutcome:
        moment = datetime.fromtimestamp(fetched_at, UTC)
        quotes = 0
        for product in self.products:
            snapshot = Snapshot(
                region,
                product,
                moment,
                self.settings.source,
                tuple(types),
                tuple(fetch.quotes.get(product, ())),
            )
            result = self.store.write_snapshot(snapshot)
            quotes += len(snapshot.quotes)
            if result.skipped:
                log.info(
                    "%s %s: %d types kept newer data already stored",
                    region,
                    product,
                    result.skipped,
                )
        self.store.record_success(region, fetched_at, quotes)
        self._not_enabled_until.pop(region, None)
        if self._catalog.get(region) == NOT_OPTED_IN:
            self._catalog[region] = "opted-in"  # it answered: the account enabled it since
        rejected = sum(fetch.rejected.values())
        if rejected:
            log.warning("%s: rejected %d records %s", region, rejected, fetch.rejected)
        return RegionOutcome(
            region,
            OK,
            quotes=quotes,
            calls=fetch.calls,
            pages=fetch.pages,
            rejected=rejected,
            fetched_at=fetched_at,
        )

    def _failed(self, region: str, exc: AwsError) -> RegionOutcome:
        now = self.clock()
        next_check = None
        if exc.kind == ERROR_NOT_ENABLED:
            next_check = now + self.settings.not_enabled_recheck
            self._not_enabled_until[region] = next_check
        log.warning("%s: fetch failed (%s): %s; last good data kept", region, exc.kind, exc)
        self.store.record_error(region, exc.kind, str(exc), now, next_check=next_check)
        return RegionOutcome(region, FAILED, error=exc, detail=exc.code)

    # -- the loop ---------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event, *, once: bool = False) -> CycleReport | None:
        """Run cycles every `interval` until `stop` is set; the cycle in progress finishes."""
        report = None
        while not stop.is_set():
            started = time.monotonic()
            report = self.run_cycle()
            if once:
                break
            stop.wait(max(1.0, self.interval - (time.monotonic() - started)))
        return report
