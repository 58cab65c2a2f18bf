"""The Redis schema against a real redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import redis

from spotter.model import Quote, Snapshot
from spotter.store import Store

T0 = datetime(2024, 12, 24, 2, 40, tzinfo=UTC)


def quote(region: str, itype: str, zone: str, price: str, changed: datetime = T0) -> Quote:
    return Quote(
        region, itype, "Linux/UNIX", zone, zone.replace(region, "az"), Decimal(price), changed
    )


def snapshot(
    region: str,
    fetched_at: datetime,
    types: tuple[str, ...],
    *quotes: Quote,
    source: str = "replay",
) -> Snapshot:
    return Snapshot(region, "Linux/UNIX", fetched_at, source, types, tuple(quotes))


class CountingConnection(redis.Connection):
    sends = 0

    def send_packed_command(self, command, check_health=True):  # type: ignore[override]
        type(self).sends += 1
        return super().send_packed_command(command, check_health)


def counting_store(url: str) -> Store:
    pool = redis.ConnectionPool.from_url(url, connection_class=CountingConnection)
    return Store(redis.Redis(connection_pool=pool))


def test_snapshot_round_trip_keeps_exact_prices_and_zone_ids(redis_url: str) -> None:
    store = Store(redis.Redis.from_url(redis_url))
    snap = snapshot(
        "us-east-1",
        T0,
        ("t3.micro", "p4d.24xlarge"),
        quote("us-east-1", "t3.micro", "us-east-1a", "0.003500"),
        quote("us-east-1", "t3.micro", "us-east-1b", "0.0034"),
    )
    result = store.write_snapshot(snap)
    assert (result.written, result.skipped, result.quotes) == (2, 0, 2)
    view = store.spot_prices_view("us-east-1", "t3.micro", "Linux/UNIX")
    assert view.prices is not None
    assert [(z.zone, z.price) for z in view.prices.zones] == [
        ("us-east-1b", Decimal("0.0034")),
        ("us-east-1a", Decimal("0.003500")),
    ]
    assert view.prices.zones[0].zone_id == "azb"
    assert view.prices.source == "replay"
    empty = store.spot_prices_view("us-east-1", "p4d.24xlarge", "Linux/UNIX")
    assert empty.prices is not None and empty.prices.zones == ()
    assert store.spot_prices_view("us-east-1", "c5.large", "Linux/UNIX").prices is None


def test_older_fetch_never_overwrites_newer(redis_url: str) -> None:
    store = Store(redis.Redis.from_url(redis_url))
    new = snapshot(
        "us-east-1",
        T0 + timedelta(minutes=5),
        ("t3.micro",),
        quote("us-east-1", "t3.micro", "us-east-1a", "0.0040"),
    )
    old = snapshot(
        "us-east-1", T0, ("t3.micro",), quote("us-east-1", "t3.micro", "us-east-1a", "0.0010")
    )
    store.write_snapshot(new)
    result = store.write_snapshot(old)
    assert (result.written, result.skipped) == (0, 1)
    view = store.spot_prices_view("us-east-1", "t3.micro", "Linux/UNIX")
    assert view.prices is not None and view.prices.zones[0].price == Decimal("0.0040")
    assert (
        float(store.snapshot_meta("us-east-1", "Linux/UNIX")["fetched_at"])
        == new.fetched_at.timestamp()
    )


def test_best_price_view_costs_one_round_trip_for_any_number_of_regions(redis_url: str) -> None:
    store = counting_store(redis_url)
    regions = [f"xx-test-{i}" for i in range(1, 35)]
    for i, region in enumerate(regions):
        store.write_snapshot(
            snapshot(
                region, T0, ("m5.large",), quote(region, "m5.large", region + "a", f"0.{100 + i}")
            )
        )
    store.mark_watched(regions)
    CountingConnection.sends = 0
    view = store.best_price_view("m5.large", "Linux/UNIX")
    assert CountingConnection.sends == 1
    assert len(view.entries) == 34 and view.watched == frozenset(regions)


def test_history_keeps_changes_within_retention(redis_url: str) -> None:
    store = Store(redis.Redis.from_url(redis_url), history_retention=86400)
    for days_ago, price in ((3, "0.0100"), (0.5, "0.0200"), (0, "0.0300")):
        changed = T0 - timedelta(days=days_ago)
        store.write_snapshot(
            snapshot(
                "us-east-1",
                changed,
                ("t3.micro",),
                quote("us-east-1", "t3.micro", "us-east-1a", price, changed),
            )
        )
    points = store.history("us-east-1", "t3.micro", "Linux/UNIX")
    assert [p.price for p in points] == [Decimal("0.0200"), Decimal("0.0300")]
    assert store.history("us-east-1", "t3.micro", "Linux/UNIX", zone="us-east-1b") == []


def test_late_lock_release_does_not_free_the_new_holders_lock(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = Store(client)
    first = store.lock("us-east-1", ttl=0.05)
    assert first.acquire()
    import time

    time.sleep(0.1)
    second = store.lock("us-east-1", ttl=10)
    assert second.acquire()
    assert first.release() is False
    assert second.holder() == second.token
    assert second.release() is True


def test_errors_keep_last_good_prices_and_success_only_moves_forward(redis_url: str) -> None:
    store = Store(redis.Redis.from_url(redis_url))
    store.write_snapshot(
        snapshot(
            "us-east-1", T0, ("t3.micro",), quote("us-east-1", "t3.micro", "us-east-1a", "0.0040")
        )
    )
    assert store.record_success("us-east-1", 200.0, 1)
    store.record_error("us-east-1", "throttled", "RequestLimitExceeded", 300.0)
    assert not store.record_success("us-east-1", 100.0, 1)
    status = store.region_statuses(["us-east-1"])["us-east-1"]
    assert (status.state, status.last_success, status.last_error_kind) == (
        "throttled",
        200.0,
        "throttled",
    )
    assert store.spot_prices_view("us-east-1", "t3.micro", "Linux/UNIX").prices is not None
