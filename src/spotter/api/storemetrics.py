"""The part of `/metrics` read from Redis at scrape time (never from AWS): the spot price of every
zone, and how fresh each region's data is.

A scrape costs three Redis round trips whatever the number of regions and types. The price
series, the bulk of the answer, are rendered straight to text and kept per worker until a fetch
writes new quotes (the index read on every scrape says so), so a scrape between two fetches
costs two round trips and the freshness series.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from prometheus_client.utils import floatToGoString

from spotter.api.deps import Deps
from spotter.store import PriceRow, Store, StoredIndex, StoreUnavailable

PRICE = "spotter_spot_price_usd_per_hour"
REGION_STATES = ("pending", "ok", "error", "throttled", "unauthorized", "not_enabled")
NOT_OPTED_IN = "not-opted-in"


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _head(name: str, help_text: str) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"


def _family(name: str, help_text: str, samples: Iterable[tuple[str, float]]) -> str:
    """A gauge family: `samples` are (rendered labels, value)."""
    lines = [f"{name}{{{labels}}} {floatToGoString(v)}\n" if labels else
             f"{name} {floatToGoString(v)}\n" for labels, v in samples]
    return _head(name, help_text) + "".join(lines) if lines else ""


def render_prices(rows: Iterable[PriceRow]) -> bytes:
    """The price family as exposition text; the price is the exact decimal AWS sent."""
    out = [_head(PRICE, "Latest spot price of an instance type in a zone, USD per hour, "
                        "as stored by the fetchers (see spotter_region_* for its age).")]
    for product, itype, region, zone, zone_id, price in rows:
        out.append(
            f'{PRICE}{{region="{_escape(region)}",zone="{_escape(zone)}",'
            f'zone_id="{_escape(zone_id or "")}",instance_type="{_escape(itype)}",'
            f'product="{_escape(product)}"}} {floatToGoString(float(price))}\n'
        )
    return "".join(out).encode() if len(out) > 1 else b""


def render_freshness(index: StoredIndex, now: float, expiry: float) -> str:
    """Per region: last success, data age, staleness, quotes and state; regions not enabled."""
    statuses = sorted(index.statuses.items())

    success = [(f'region="{_escape(r)}"', s.last_success) for r, s in statuses
               if s.last_success is not None]
    not_enabled = {r for r, s in statuses if s.state == "not_enabled"}
    not_enabled |= {r for r, status in index.catalog.items() if status == NOT_OPTED_IN}
    parts = [
        _family("spotter_region_last_success_timestamp_seconds",
                "Unix time of the region's last successful fetch.",
                [(labels, float(at)) for labels, at in success]),
        _family("spotter_region_data_age_seconds",
                "Seconds since the region's last successful fetch, at scrape time.",
                [(labels, max(0.0, now - float(at))) for labels, at in success]),
        _family("spotter_region_stale",
                f"1 when the region's last successful fetch is older than CACHE_EXPIRY "
                f"({expiry:g}s) or there was none.",
                [(f'region="{_escape(r)}"',
                  1.0 if s.last_success is None or now - s.last_success > expiry else 0.0)
                 for r, s in statuses]),
        _family("spotter_region_quotes", "Quotes (type x zone x product) of the region's "
                "last successful fetch.",
                [(f'region="{_escape(r)}"', float(s.quotes)) for r, s in statuses]),
        _family("spotter_region_state", "1 for the region's current fetch state.",
                [(f'region="{_escape(r)}",state="{state}"', 1.0 if s.state == state else 0.0)
                 for r, s in statuses for state in REGION_STATES]),
        _family("spotter_regions_not_enabled",
                "Regions not enabled for the AWS account (opt-in required).",
                [("", float(len(not_enabled)))]),
    ]
    return "".join(parts)


class StoreMetrics:
    """Renders the store's series for one scrape; holds this worker's price text cache."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._lock = threading.Lock()
        self._prices: tuple[int, bytes] | None = None

    def exposition(self) -> bytes:
        started = time.perf_counter()
        try:
            store = self.deps.store
            index = store.stored_index()
            prices = self._price_text(index, store)
        except StoreUnavailable:
            return self._tail(0, started).encode()
        text = render_freshness(index, self.deps.clock(), self.deps.settings.cache_expiry)
        return text.encode() + prices + self._tail(1, started).encode()

    def _price_text(self, index: StoredIndex, store: Store) -> bytes:
        version = index.version()
        cached = self._prices
        if cached is not None and cached[0] == version:
            return cached[1]
        text = render_prices(store.price_rows(index.quote_keys()))
        with self._lock:
            self._prices = (version, text)
        return text

    @staticmethod
    def _tail(up: int, started: float) -> str:
        return _family(
            "spotter_store_up", "1 when this scrape could read the store (Redis).",
            [("", float(up))],
        ) + _family(
            "spotter_metrics_store_seconds",
            "Seconds this scrape spent reading the store and rendering its series.",
            [("", time.perf_counter() - started)],
        )
