"""The API under real Gunicorn: several worker processes, real sockets, a real Redis."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import redis
import requests

from spotter.store import Store
from support.apiserver import ApiServer, seed

ServerFactory = Callable[..., ApiServer]


@pytest.fixture
def store(redis_url: str) -> Store:
    return Store(redis.Redis.from_url(redis_url))


def fresh_get(server: ApiServer, path: str) -> requests.Response:
    """A request on a new connection, so the kernel may hand it to any worker."""
    return requests.get(server.url + path, headers={"Connection": "close"}, timeout=10)


def test_gunicorn_workers_answer_over_real_sockets(
    redis_url: str, store: Store, api_server: ServerFactory
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}}, now=datetime.now(UTC))
    server = api_server({"REDIS_URL": redis_url}, workers=3, threads=2)
    assert len(server.worker_pids()) == 3
    prices = server.get("/spot-prices/us-east-1/t3.micro/")
    assert prices.status_code == 200 and prices.json()["prices"] == {"us-east-1a": 0.0035}
    assert prices.json()["stale"] is False
    assert prices.headers["content-type"].startswith("application/json")
    bad = server.get("/spot-prices/us-east-1/t3..micro")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_instance_type")
    assert server.session.post(server.url + "/health", timeout=5).status_code == 405
    assert server.get("/openapi.json").json()["openapi"].startswith("3.1")


def test_no_redis_connection_is_shared_across_fork(
    redis_url: str, api_server: ServerFactory
) -> None:
    server = api_server({"REDIS_URL": redis_url}, workers=3, threads=4)
    workers = server.worker_pids()
    pids_by_client: dict[int, set[int]] = defaultdict(set)
    with ThreadPoolExecutor(12) as pool:
        for _ in range(20):
            answers = list(pool.map(lambda _: fresh_get(server, "/health").json(), range(24)))
            for body in answers:
                pids_by_client[body["redis"]["client_id"]].add(body["worker"]["pid"])
            if len(set().union(*pids_by_client.values())) >= 2:
                break
    seen = set().union(*pids_by_client.values())
    assert len(seen) >= 2, "requests never reached a second worker"
    assert seen <= workers
    # Every Redis connection answered for exactly one worker process.
    assert all(len(pids) == 1 for pids in pids_by_client.values()), dict(pids_by_client)
    listed = {int(c["id"]) for c in redis.Redis.from_url(redis_url).client_list()}
    assert set(pids_by_client) <= listed


# Busy-waits inside Redis, which then answers nobody: a stall without stopping the server.
STALL = """
local t0 = redis.call('TIME')
local start = tonumber(t0[1]) + tonumber(t0[2]) / 1e6
while true do
  local t = redis.call('TIME')
  if tonumber(t[1]) + tonumber(t[2]) / 1e6 - start > tonumber(ARGV[1]) then return 1 end
end
"""


def test_pool_of_two_under_100_concurrent_requests_never_answers_500(
    redis_url: str, store: Store, api_server: ServerFactory
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    server = api_server(
        {"REDIS_URL": redis_url, "SPOTTER_REDIS_POOL_SIZE": "2", "SPOTTER_REDIS_TIMEOUT": "0.1",
         # Cached answers need no pooled connection: every request must take one here.
         "SPOTTER_READ_CACHE": "off"},
        workers=1, threads=16,
    )
    start = threading.Barrier(101)

    def stall() -> None:
        start.wait()
        redis.Redis.from_url(redis_url).eval(STALL, 0, 0.3)

    def one(_: int) -> requests.Response:
        start.wait()
        return fresh_get(server, "/best-price/t3.micro")

    staller = threading.Thread(target=stall)
    staller.start()
    with ThreadPoolExecutor(100) as pool:
        answers = list(pool.map(one, range(100)))
    staller.join()
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 503}, statuses
    for answer in answers:
        if answer.status_code == 503:
            assert answer.json()["error"]["code"] == "redis_unavailable"
            assert int(answer.headers["Retry-After"]) > 0
    assert "Traceback" not in server.output()


def test_metrics_add_up_across_worker_processes(
    redis_url: str, api_server: ServerFactory
) -> None:
    server = api_server({"REDIS_URL": redis_url}, workers=3, threads=2)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: fresh_get(server, "/regions"), range(40)))
    text = fresh_get(server, "/metrics").text
    count = re.search(
        r'spotter_http_requests_total\{method="GET",route="/regions",status="200"\} (\S+)', text)
    assert count is not None and float(count.group(1)) == 40.0
