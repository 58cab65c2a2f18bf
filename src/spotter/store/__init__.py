"""Redis storage: the only code that knows Spotter's keys, encodings and scripts."""

from spotter.store.connection import connect
from spotter.store.lock import RegionLock
from spotter.store.redis_store import (
    BestPriceView,
    PriceRow,
    SpotPricesView,
    Store,
    StoredIndex,
    StoreUnavailable,
)

__all__ = [
    "BestPriceView",
    "PriceRow",
    "RegionLock",
    "SpotPricesView",
    "Store",
    "StoreUnavailable",
    "StoredIndex",
    "connect",
]
