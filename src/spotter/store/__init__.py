"""Redis storage: the only code that knows Spotter's keys, encodings and scripts."""

from spotter.store.connection import connect
from spotter.store.lock import RegionLock
from spotter.store.redis_store import BestPriceView, SpotPricesView, Store, StoreUnavailable

__all__ = ["BestPriceView", "RegionLock", "SpotPricesView", "Store", "StoreUnavailable", "connect"]
