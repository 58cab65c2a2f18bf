"""A small, known store for tests that hit a live API: two watched regions with prices, a catalog
with an unwatched and a not-enabled region."""

from __future__ import annotations

from datetime import UTC, datetime

import redis

from spotter.store import Store
from support.apiserver import seed

WATCHED = ("us-east-1", "eu-west-1")


def seed_store(url: str) -> None:
    store = Store(redis.Redis.from_url(url))
    store.client.flushall()
    now = datetime.now(UTC)
    for region in WATCHED:
        seed(store, region, {"t3.micro": {f"{region}a": "0.0035", f"{region}b": "0.0031"},
                             "m5.large": {f"{region}c": "0.04"}}, now=now, age=5)
    store.set_catalog({"us-east-1": "opt-in-not-required", "eu-west-1": "opt-in-not-required",
                       "eu-west-3": "opt-in-not-required", "ap-east-1": "not-opted-in"})
    store.close()
