"""What `/metrics` reads from Redis (prices, freshness per region), `/healthz` and `/readyz`, over a
real Redis, each answer checked against the OpenAPI document."""

from __future__ import annotations

import gzip

import falcon.testing
import pytest
import redis

from spotter.api.app import create_app
from spotter.config import Settings
from spotter.store import Store
from support.apiserver import NOW, ContractClient, seed
from support.fetchers import Samples, parse
from support.redisserver import RedisServer

SETTINGS = Settings(cache_expiry=600.0, update_interval=300.0)
T = NOW.timestamp()
PRICE = "spotter_spot_price_usd_per_hour"


@pytest.fixture
def store(redis_url: str) -> Store:
    return Store(redis.Redis.from_url(redis_url))


@pytest.fixture
def client(store: Store) -> ContractClient:
    return ContractClient(create_app(store, SETTINGS, clock=NOW.timestamp))


def metrics(client: ContractClient) -> Samples:
    result = client.get("/metrics")
    assert result.status_code == 200
    return parse(result.text)


def region(name: str) -> tuple[tuple[str, str], ...]:
    return (("region", name),)


def price_key(region: str, zone: str, zone_id: str, itype: str, product: str = "Linux/UNIX"):
    labels = {"region": region, "zone": zone, "zone_id": zone_id, "instance_type": itype,
              "product": product}
    return (PRICE, tuple(sorted(labels.items())))


def test_freshness_of_every_region_and_the_regions_not_enabled(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035", "us-east-1b": "0.0036"}})
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}}, age=900)
    store.mark_watched(["ap-south-1", "ap-east-1"])
    store.record_error("ap-south-1", "throttled", "RequestLimitExceeded", T - 30)
    store.record_error("ap-east-1", "not_enabled", "OptInRequired", T - 60)
    store.set_catalog({"us-east-1": "opt-in-not-required", "ap-east-1": "not-opted-in",
                       "me-south-1": "not-opted-in"})
    m = metrics(client)
    assert m[("spotter_region_last_success_timestamp_seconds", region("us-east-1"))] == T - 12
    assert m[("spotter_region_last_success_timestamp_seconds", region("eu-west-1"))] == T - 900
    assert ("spotter_region_last_success_timestamp_seconds", region("ap-south-1")) not in m
    assert m[("spotter_region_data_age_seconds", region("us-east-1"))] == 12
    assert m[("spotter_region_data_age_seconds", region("eu-west-1"))] == 900
    stale = {dict(k[1])["region"]: v for k, v in m.items() if k[0] == "spotter_region_stale"}
    assert stale == {"us-east-1": 0, "eu-west-1": 1, "ap-south-1": 1, "ap-east-1": 1}
    assert m[("spotter_region_quotes", region("us-east-1"))] == 2
    states = {dict(k[1])["region"]: dict(k[1])["state"]
              for k, v in m.items() if k[0] == "spotter_region_state" and v == 1}
    assert states == {"us-east-1": "ok", "eu-west-1": "ok", "ap-south-1": "throttled",
                      "ap-east-1": "not_enabled"}
    assert m[("spotter_regions_not_enabled", ())] == 2  # ap-east-1 and me-south-1
    assert m[("spotter_store_up", ())] == 1


def test_prices_are_the_stored_digits_and_follow_each_new_fetch(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035", "us-east-1b": "0.0036"},
                              "c5.large": {"us-east-1a": "0.0311"}})
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0500"}}, product="Windows")
    first = metrics(client)
    assert {k: v for k, v in first.items() if k[0] == PRICE} == {
        price_key("us-east-1", "us-east-1a", "use1-az1", "t3.micro"): 0.0035,
        price_key("us-east-1", "us-east-1b", "use1-az2", "t3.micro"): 0.0036,
        price_key("us-east-1", "us-east-1a", "use1-az1", "c5.large"): 0.0311,
        price_key("us-east-1", "us-east-1a", "use1-az1", "t3.micro", "Windows"): 0.05,
    }
    # A newer fetch of one type: the worker's price text is rebuilt, not served from before.
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0042", "us-east-1b": "0.0036"}},
         age=2)
    second = metrics(client)
    assert second[price_key("us-east-1", "us-east-1a", "use1-az1", "t3.micro")] == 0.0042
    assert second[price_key("us-east-1", "us-east-1a", "use1-az1", "c5.large")] == 0.0311
    assert second[("spotter_region_last_success_timestamp_seconds", region("us-east-1"))] == T - 2


def test_metrics_are_gzipped_when_the_scraper_accepts_it(store: Store) -> None:
    seed(store, "us-east-1", {f"c5.{n}xlarge": {"us-east-1a": "0.1"} for n in range(2, 60)})
    app = create_app(store, SETTINGS, clock=NOW.timestamp)
    answer = falcon.testing.TestClient(app).simulate_get(
        "/metrics", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert parse(gzip.decompress(answer.content).decode())[
        price_key("us-east-1", "us-east-1a", "use1-az1", "c5.2xlarge")] == 0.1


def test_probes_and_scrapes_while_redis_is_down(
    redis_server: RedisServer, store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    assert client.get("/readyz").json["status"] == "ready"
    redis_server.stop()
    try:
        alive = client.get("/healthz")
        assert (alive.status_code, alive.json["status"]) == (200, "alive")
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json["status"]) == (503, "not_ready")
        assert ready.json["reasons"] and int(ready.headers["retry-after"]) > 0
        down = metrics(client)  # a scrape still answers, and says the store is unreachable
        assert down[("spotter_store_up", ())] == 0
        assert not any(k[0] == PRICE for k in down)
        assert down[("spotter_http_requests_total", (("method", "GET"), ("route", "/readyz"),
                                                     ("status", "503")))] == 1
    finally:
        redis_server.start()
    assert client.get("/readyz").status_code == 200
    assert metrics(client)[("spotter_store_up", ())] == 1
