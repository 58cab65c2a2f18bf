"""The API's read cache against a real redis-server: hits while nothing changes, never a stale
read once Redis has pushed the invalidation, nothing cached while tracking is down."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import falcon.testing
import pytest
import redis
import requests

from spotter.api.app import create_app
from spotter.config import Settings
from spotter.model import Quote, Snapshot
from spotter.store import Store, StoreUnavailable
from spotter.store.tracking import MISS, ReadCache, _unread, tracking_connection
from support.apiserver import ApiServer
from support.redisserver import RedisServer

T0 = datetime(2024, 12, 24, 2, 40, tzinfo=UTC)
PRODUCT = "Linux/UNIX"


def write(store: Store, region: str, price: str, *, at: datetime) -> None:
    quote = Quote(region, "t3.micro", PRODUCT, f"{region}a", "use1-az1", Decimal(price), T0)
    store.write_snapshot(Snapshot(region, PRODUCT, at, "replay", ("t3.micro",), (quote,)))
    store.record_success(region, at.timestamp(), 1)
    store.mark_watched([region])


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def cached_store(url: str) -> Store:
    return Store.from_settings(Settings.from_env({"REDIS_URL": url}), read_cache=True)


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    store = cached_store(redis_url)
    yield store
    store.close()


def warm(store: Store, itype: str = "t3.micro") -> None:
    """Read until the cache serves: the keeper thread connects in the background."""
    cache = store.read_cache
    assert cache is not None

    def hit() -> bool:
        before = cache.hits
        store.best_price_view(itype, PRODUCT)
        store.best_price_view(itype, PRODUCT)
        return cache.hits > before

    wait_until(hit)


def best(store: Store, region: str = "us-east-1") -> Decimal:
    view = store.best_price_view("t3.micro", PRODUCT)
    return view.entries[region].zones[0].price


def test_repeated_reads_are_served_without_asking_redis(store: Store, redis_url: str) -> None:
    write(store, "us-east-1", "0.0035", at=T0)
    warm(store)
    client = redis.Redis.from_url(redis_url)
    before = client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
    views = {id(store.best_price_view("t3.micro", PRODUCT)) for _ in range(50)}
    after = client.info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
    assert after == before
    assert len(views) == 1


def test_a_new_snapshot_is_read_right_after_it_is_written_never_the_old_one(
    store: Store, redis_url: str
) -> None:
    writer = Store(redis.Redis.from_url(redis_url))  # another process's connection, in effect
    write(writer, "us-east-1", "0.0100", at=T0)
    warm(store)
    for step in range(1, 101):
        price = f"0.{step:04d}"
        write(writer, "us-east-1", price, at=T0 + timedelta(seconds=step))
        assert best(store) == Decimal(price), f"stale read at step {step}"
        spot = store.spot_prices_view("us-east-1", "t3.micro", PRODUCT)
        assert spot.prices is not None and spot.prices.zones[0].price == Decimal(price)
        assert best(store) == Decimal(price)  # and again, now from the cache
    assert store.read_cache is not None and store.read_cache.hits > 100


def test_threads_reading_while_snapshots_are_written_never_go_back_in_time(
    store: Store, redis_url: str
) -> None:
    writer = Store(redis.Redis.from_url(redis_url))
    write(writer, "us-east-1", "0.0001", at=T0)
    warm(store)
    published = [1]  # the newest step whose write has returned
    stale: list[tuple[int, int]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            floor = published[0]
            seen = int(best(store) * 10_000)
            if seen < floor:
                stale.append((floor, seen))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for step in range(2, 200):
            write(writer, "us-east-1", f"0.{step:04d}", at=T0 + timedelta(seconds=step))
            published[0] = step
            time.sleep(0.002)
    finally:
        done.set()
        for thread in readers:
            thread.join(10)
    assert stale == []
    assert store.read_cache is not None and store.read_cache.hits > 0


def test_a_watched_region_added_or_a_flush_is_seen_at_once(store: Store, redis_url: str) -> None:
    write(store, "us-east-1", "0.0035", at=T0)
    warm(store)
    client = redis.Redis.from_url(redis_url)
    client.sadd("spotter:watched", "eu-west-1")
    assert "eu-west-1" in store.best_price_view("t3.micro", PRODUCT).watched
    client.flushall()
    # A flush's push is queued before FLUSHALL's reply but may be written just after it (a
    # write's push, sent from beforeSleep, goes out first): it arrives within moments.
    wait_until(lambda: store.best_price_view("t3.micro", PRODUCT).entries == {}, timeout=2)


def test_a_value_read_before_an_invalidation_is_not_kept(store: Store, redis_url: str) -> None:
    write(store, "us-east-1", "0.0035", at=T0)
    warm(store)
    cache = store.read_cache
    assert cache is not None
    value, token = cache.lookup("probe")
    assert value is MISS and token is not None
    redis.Redis.from_url(redis_url).hset("spotter:q:linux:t3.micro", "x", "1")
    wait_until(lambda: cache.lookup("other")[1] != token)  # the push has been applied
    cache.remember("probe", ["spotter:q:linux:t3.micro"], "old", token)
    assert cache.lookup("probe")[0] is MISS


def test_cache_is_flushed_across_a_redis_restart_and_comes_back(
    redis_server: RedisServer,
) -> None:
    redis_server.ensure_running()
    redis.Redis.from_url(redis_server.url).flushall()
    store = cached_store(redis_server.url)
    try:
        write(store, "us-east-1", "0.0035", at=T0)
        warm(store)
        assert best(store) == Decimal("0.0035")
        redis_server.stop()
        with pytest.raises(StoreUnavailable):
            store.best_price_view("t3.micro", PRODUCT)
        redis_server.start()  # empty: nothing was persisted
        write(Store(redis.Redis.from_url(redis_server.url)), "us-east-1", "0.0042", at=T0)
        assert best(store) == Decimal("0.0042")
        warm(store)
        assert store.read_cache is not None and store.read_cache.connects == 2
        write(Store(redis.Redis.from_url(redis_server.url)), "us-east-1", "0.0043", at=T0)
        assert best(store) == Decimal("0.0043")
    finally:
        store.close()
        if redis_server.process is None:
            redis_server.start()


def test_the_cache_keeps_at_most_max_entries_and_no_links_to_forgotten_ones(
    redis_url: str,
) -> None:
    client = redis.Redis.from_url(redis_url)
    cache = ReadCache(tracking_connection(client), ["spotter:q:", "spotter:watched"], max_entries=3)
    try:
        cache.lookup("k")
        wait_until(lambda: cache.lookup("k")[1] is not None)
        for i in range(10):
            token = cache.lookup(i)[1]
            cache.remember(i, [f"spotter:q:t{i}", "spotter:watched"], f"v{i}", token)
        assert [cache.lookup(i)[0] for i in range(6, 10)] == [MISS, "v7", "v8", "v9"]
        assert len(cache._by_key[b"spotter:watched"]) == 3  # links of evicted entries are gone
        client.sadd("spotter:watched", "eu-west-1")
        wait_until(lambda: cache.lookup(9)[0] is MISS)
        assert cache._by_key == {} and cache._deps == {}
    finally:
        cache.close()


def test_unread_bytes_on_the_tracking_socket_are_seen_without_reading_them() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert not _unread(ours.fileno())
        theirs.sendall(b">2\r\n$10\r\ninvalidate\r\n_\r\n")
        wait_until(lambda: _unread(ours.fileno()))
        assert _unread(ours.fileno())  # peeking takes nothing off the socket
        ours.recv(1024)
        assert not _unread(ours.fileno())


def test_nothing_is_cached_when_the_server_refuses_tracking(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    connect = tracking_connection(client)
    # Overlapping prefixes are refused by Redis, as a server without tracking would refuse.
    cache = ReadCache(connect, ["spotter:q:", "spotter:q:linux:"], retry_interval=0.05)
    try:
        for _ in range(20):
            value, token = cache.lookup("k")
            assert value is MISS and token is None
            time.sleep(0.01)
        assert cache.connects == 0
    finally:
        cache.close()


def test_cache_turns_off_when_the_tracking_connection_goes_silent(redis_url: str) -> None:
    now = [0.0]
    client = redis.Redis.from_url(redis_url)
    cache = ReadCache(
        tracking_connection(client), ["spotter:q:"], ping_interval=3600, clock=lambda: now[0]
    )
    try:
        cache.lookup("k")
        wait_until(lambda: cache.lookup("k")[1] is not None)
        cache.remember("k", ["spotter:q:x"], "v", cache.lookup("k")[1])
        assert cache.lookup("k")[0] == "v"
        now[0] += cache.max_silence + 1  # no PING answered for that long
        assert cache.lookup("k") == (MISS, None)
    finally:
        cache.close()


def test_cached_answers_still_age_with_the_clock_and_keep_queries_apart(
    store: Store, redis_url: str
) -> None:
    now = [T0.timestamp() + 12.0]
    app = create_app(store, Settings(cache_expiry=600.0), clock=lambda: now[0])
    client = falcon.testing.TestClient(app)
    write(store, "us-east-1", "0.0035", at=T0)
    write(store, "eu-west-1", "0.0040", at=T0)
    warm(store)
    assert client.simulate_get("/best-price/t3.micro").json["age_seconds"] == 12.0
    now[0] += 5
    for path in ("/best-price/t3.micro", "/spot-prices/us-east-1/t3.micro"):
        assert client.simulate_get(path).json["age_seconds"] == 17.0
    only_eu = client.simulate_get("/best-price/t3.micro", params={"regions": "eu-west-1"}).json
    assert (only_eu["region"], only_eu["regions_considered"]) == ("eu-west-1", 1)
    assert client.simulate_get("/best-price/t3.micro").json["region"] == "us-east-1"
    now[0] += 600
    answer = client.simulate_get("/spot-prices/us-east-1/t3.micro").json
    assert (answer["age_seconds"], answer["stale"]) == (617.0, True)


def test_api_under_gunicorn_serves_each_new_snapshot_on_the_next_request(
    redis_url: str, api_server: Callable[..., ApiServer]
) -> None:
    writer = Store(redis.Redis.from_url(redis_url))
    now = datetime.now(UTC)
    write(writer, "us-east-1", "0.0100", at=now)
    server = api_server({"REDIS_URL": redis_url}, workers=2, threads=4)
    client = redis.Redis.from_url(redis_url)

    def tracking_clients() -> int:
        return sum("B" in c["flags"] for c in client.client_list())

    def both_workers_track() -> bool:
        # A new connection each time, so that both workers get requests.
        requests.get(server.url + "/best-price/t3.micro", timeout=10)
        return tracking_clients() >= 2

    wait_until(both_workers_track)  # each worker's read cache is on
    for step in range(1, 51):
        price = f"0.{step:04d}"
        write(writer, "us-east-1", price, at=now + timedelta(milliseconds=step))
        assert fresh_get(server, "/best-price/t3.micro")["price"] == float(price), step
        spot = fresh_get(server, "/spot-prices/us-east-1/t3.micro")
        assert spot["prices"] == {"us-east-1a": float(price)}, step


def fresh_get(server: ApiServer, path: str) -> dict:
    """On a new connection: whichever worker accepts it answers."""
    answer = requests.get(server.url + path, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()
