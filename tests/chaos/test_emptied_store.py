"""A store that knows nothing (a new install, or a Redis that restarted without its data) must
not call real regions unknown: until the fetchers have rewritten what they know, the honest
answer is 503 not_yet_fetched with Retry-After. Found under load by the Redis restart test, where
every /spot-prices answered 404 unknown_region for regions being fetched."""

from __future__ import annotations

import falcon.testing
import redis

from spotter.api.app import create_app
from spotter.config import Settings
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
