"""A store that knows nothing (a new install, or a Redis that restarted without its data) must
not call real regions unknown: until the fetchers have rewritten what they know, the honest
answer is 503 not_yet_fetched with Retry-After. Found under load by the Redis restart test, where
every /spot-prices answered 404 unknown_region for regions being fetched."""

from __future__ import annotations

from typing import Any

import falcon.testing
import redis

from spotter.api.app import create_app
from spotter.config import Settings
from spotter.fetcher.loop import Fetcher
from spotter.store import Store


def test_an_emptied_store_answers_not_yet_fetched_not_unknown_region(redis_url: str) -> None:
    store = Store(redis.Redis.from_url(redis_url))
    client = falcon.testing.TestClient(create_app(store, Settings.from_env({})))
    for path in ("/spot-prices/us-east-1/m5.large", "/spot-prices/us-east-1/m5.large/history"):
        answer = client.simulate_get(path)
        assert answer.status_code == 503, answer.text
        assert answer.json["error"]["code"] == "not_yet_fetched"
        assert int(answer.headers["Retry-After"]) > 0
    store.mark_watched(["eu-west-1"])  # once something is known, an unknown region is one
    answer = client.simulate_get("/spot-prices/xx-nowhere-1/m5.large")
    assert (answer.status_code, answer.json["error"]["code"]) == (404, "unknown_region")


def test_fetcher_rewrites_rarely_written_state_after_redis_lost_it(
    replay_server: Any, redis_url: str
) -> None:
    """The catalog (refreshed every few hours) and "not enabled" statuses (rechecked every few
    hours) were left missing after Redis restarted empty: a not-enabled region read as pending
    and a region nobody watches as unknown, for hours."""
    settings = Settings.from_env({
        "REDIS_URL": redis_url, "SPOTTER_SOURCE": "replay",
        "SPOTTER_AWS_ENDPOINT_URL": replay_server.url,
    })
    store = Store.from_settings(settings)
    fetcher = Fetcher(settings, store, regions=("us-east-1", "ap-east-1"),
                      instance_types=("r5.large",), products=("Linux/UNIX",))
    fetcher.run_cycle()
    assert store.region_statuses(["ap-east-1"])["ap-east-1"].state == "not_enabled"
    catalog = store.catalog()
    store.client.flushall()  # what a restart of a Redis without persistence leaves
    fetcher.run_cycle()
    assert store.catalog() == catalog
    assert store.region_statuses(["ap-east-1"])["ap-east-1"].state == "not_enabled"
    assert store.region_statuses(["us-east-1"])["us-east-1"].state == "ok"
    store.close()


def test_a_store_being_refilled_never_calls_an_unwatched_region_unknown(redis_url: str) -> None:
    """Found by the long Redis restart run: between a fetcher marking its regions watched and
    rewriting the catalog, an unwatched region answered 404 unknown_region. The fetcher now
    writes the catalog first, and with the catalog but nothing watched the answer is a 503."""
    store = Store(redis.Redis.from_url(redis_url))
    client = falcon.testing.TestClient(create_app(store, Settings.from_env({})))
    store.set_catalog({"us-east-1": "opt-in-not-required", "eu-west-3": "opt-in-not-required"})
    for region in ("us-east-1", "eu-west-3"):
        answer = client.simulate_get(f"/spot-prices/{region}/m5.large")
        assert (answer.status_code, answer.json["error"]["code"]) == (503, "not_yet_fetched")
    store.mark_watched(["us-east-1"])
    answer = client.simulate_get("/spot-prices/eu-west-3/m5.large")
    assert (answer.status_code, answer.json["error"]["code"]) == (404, "region_not_watched")
    answer = client.simulate_get("/spot-prices/us-east-1/m5.large")
    assert (answer.status_code, answer.json["error"]["code"]) == (503, "not_yet_fetched")
