"""Which regions exist and which are enabled for the account, asked of EC2 and cached.

DescribeRegions is asked at most once per TTL for all SpotWatches together; a failed refresh
keeps serving the last good answer (regions change on the scale of months).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from spotter.aws.errors import AwsError
from spotter.aws.regions import NOT_OPTED_IN, discover_regions
from spotter.config import Settings

Discover = Callable[[], dict[str, str]]


class RegionCatalog:
    """Region -> opt-in status, refreshed at most every `ttl` seconds. Thread-safe."""

    def __init__(self, discover: Discover, *, ttl: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._discover = discover
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._statuses: dict[str, str] | None = None
        self._fetched_at = 0.0

    @classmethod
    def for_settings(cls, settings: Settings, region: str, *, ttl: float = 600.0) -> RegionCatalog:
        return cls(lambda: discover_regions(settings, region=region), ttl=ttl)

    def statuses(self) -> dict[str, str]:
        """The catalog; raises AwsError only when there is no earlier answer to fall back on."""
        with self._lock:
            now = self._clock()
            if self._statuses is not None and now - self._fetched_at < self._ttl:
                return dict(self._statuses)
            try:
                self._statuses = self._discover()
                self._fetched_at = now
            except AwsError:
                if self._statuses is None:
                    raise
                # keep the last good answer; try again after a tenth of the TTL
                self._fetched_at = now - self._ttl * 0.9
            return dict(self._statuses)

    def known(self) -> dict[str, str]:
        """The catalog if it can be had, else {} (for advice only, never for planning)."""
        try:
            return self.statuses()
        except AwsError:
            return {}


def enabled_regions(statuses: dict[str, str]) -> list[str]:
    """Regions the account may call: every status except `not-opted-in`."""
    return sorted(name for name, status in statuses.items() if status != NOT_OPTED_IN)
