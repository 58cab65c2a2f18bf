"""A fetcher, its Store and the API over one Redis and one replay endpoint, driven cycle by cycle.

The clock moves one interval per cycle, so every type is due each cycle and "recovered within one
interval" is a count of cycles, not a race against wall time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import falcon.testing

from spotter.api.app import create_app
from spotter.config import Settings
from spotter.fetcher.loop import Fetcher
from spotter.fetcher.metrics import FetcherMetrics
from spotter.fetcher.outcome import CycleReport
from spotter.replay.server import ReplayServer
from spotter.store import Store

REGIONS = ("us-east-1", "eu-west-1", "us-west-2")
TYPES = ("r5.large", "m5.xlarge", "c5.xlarge")
PRODUCT = "Linux/UNIX"
INTERVAL = 60.0


class SteppedClock:
    """Wall time plus an offset that each cycle moves one interval forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(frozen=True)
class Held:
    """What the store holds for one (region, type): zone id -> price, and the fetch it came from."""

    prices: dict[str, Decimal]
    fetched_at: float
    source: str


class Rig:
    def __init__(self, server: ReplayServer, redis_url: str, **env: str) -> None:
        base = {
            "REDIS_URL": redis_url,
            "SPOTTER_AWS_ENDPOINT_URL": server.url,
            "SPOTTER_SOURCE": "replay",
            "AWS_MAX_ATTEMPTS": "2",
            "UPDATE_INTERVAL": str(int(INTERVAL)),
            "CACHE_EXPIRY": "600",
            # Short enough to time out quickly, long enough for a loaded machine.
            "SPOTTER_AWS_READ_TIMEOUT": "2",
            "SPOTTER_AWS_CONNECT_TIMEOUT": "1",
            # "Not enabled" is rechecked rarely on purpose; here once per interval, so that
            # recovery after the account enables the region is one cycle too.
            "SPOTTER_NOT_ENABLED_RECHECK": str(int(INTERVAL)),
        }
        self.server = server
        self.settings = Settings.from_env({**base, **env})
        self.store = Store.from_settings(self.settings)
        self.clock = SteppedClock()
        self.metrics = FetcherMetrics()
        self.fetcher = Fetcher(
            self.settings, self.store, regions=REGIONS, instance_types=TYPES,
            products=(PRODUCT,), clock=self.clock, backoff_base=0.01, metrics=self.metrics,
        )
        self.api = falcon.testing.TestClient(
            create_app(self.store, self.settings, clock=self.clock)
        )

    def cycle(self) -> CycleReport:
        self.clock.advance(INTERVAL)
        return self.fetcher.run_cycle()

    def held(self, region: str, instance_type: str) -> Held | None:
        view = self.store.spot_prices_view(region, instance_type, PRODUCT)
        if view.prices is None:
            return None
        return Held(
            {z.zone_id or z.zone: z.price for z in view.prices.zones},
            view.prices.fetched_at,
            view.prices.source,
        )

    def held_all(self) -> dict[tuple[str, str], Held | None]:
        return {(r, t): self.held(r, t) for r in REGIONS for t in TYPES}

    def get(self, path: str) -> falcon.testing.Result:
        return self.api.simulate_get(path)

    def region_report(self, region: str) -> dict[str, Any]:
        reports = self.get("/regions").json["regions"]
        return next(r for r in reports if r["region"] == region)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
        return sum(
            sample.value
            for family in self.metrics.registry.collect()
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def close(self) -> None:
        self.store.close()
