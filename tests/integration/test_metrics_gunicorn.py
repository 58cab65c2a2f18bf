"""`/metrics` under real Gunicorn: workers recycled, killed and restarted over one multiprocess
directory; the directory hidden or unusable at start; and a scrape checked series by series
against what real fetchers stored in a real Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import requests

from spotter.model import DEFAULT_PRODUCT
from spotter.store import Store
from support.apiserver import ApiServer, seed
from support.datasets import bundled_dataset_path, latest_prices
from support.fetchers import FetcherProcess, Samples, scrape
from support.redisserver import free_port

ServerFactory = Callable[..., ApiServer]
REGIONS_200 = ("spotter_http_requests_total",
               (("method", "GET"), ("route", "/regions"), ("status", "200")))
PRICE = "spotter_spot_price_usd_per_hour"


@pytest.fixture
def store(redis_url: str) -> Store:
    return Store(redis.Redis.from_url(redis_url))


def fresh_get(server: ApiServer, path: str) -> requests.Response:
    """A request on a new connection, so the kernel may hand it to any worker."""
    return requests.get(server.url + path, headers={"Connection": "close"}, timeout=10)


def in_flight(samples: Samples) -> dict[str, float]:
    """pid -> value of the in-flight gauge, one series per live worker."""
    return {dict(labels)["pid"]: v for (name, labels), v in samples.items()
            if name == "spotter_http_requests_in_flight"}


def sample_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.db"))


def test_counters_never_go_backwards_across_worker_recycling_and_a_restart(
    redis_url: str, store: Store, api_server: ServerFactory, tmp_path: Path
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    shared = tmp_path / "prometheus"
    env = {"REDIS_URL": redis_url, "PROMETHEUS_MULTIPROC_DIR": str(shared),
           # Each worker is replaced after 5 to 8 requests: some 30 generations in this test.
           "GUNICORN_CMD_ARGS": "--max-requests 5 --max-requests-jitter 3"}
    server = api_server(env, workers=2, threads=2)
    pids: set[int] = set(server.worker_pids())
    counts: list[float] = []
    for n in range(1, 201):
        assert fresh_get(server, "/regions").status_code == 200
        if n % 10 == 0:
            counts.append(scrape(server.url + "/metrics")[REGIONS_200])
            assert counts[-1] == n  # every answered request counted, by live and dead workers
            pids |= server.worker_pids()
    assert counts == sorted(counts)
    assert len(pids) > 10, f"workers were not recycled: {sorted(pids)}"
    # Dead workers' samples were folded into the archive files: the directory stays small.
    live = {str(p) for p in server.worker_pids()}
    per_pid = {name.rsplit("_", 1)[1].removesuffix(".db") for name in sample_files(shared)}
    assert per_pid - {"archive"} <= live, sample_files(shared)
    output = server.output()
    assert "Traceback" not in output and "ERROR" not in output, output[-3000:]
    print(f"\nrecycling: {len(pids)} worker pids over 200 requests; "
          f"files at the end: {sample_files(shared)}")

    # A restart (a new container over the same volume) starts from an empty directory:
    # nothing of the previous run is added to the new one's counters.
    server.stop()
    assert sample_files(shared)  # what the previous run left
    again = api_server(env, workers=2, threads=2)
    for _ in range(20):
        assert fresh_get(again, "/regions").status_code == 200
    assert scrape(again.url + "/metrics")[REGIONS_200] == 20
    assert "Traceback" not in again.output()


def test_a_killed_workers_series_disappear_from_the_next_scrape(
    redis_url: str, api_server: ServerFactory
) -> None:
    server = api_server({"REDIS_URL": redis_url}, workers=3, threads=2)
    workers = server.worker_pids()
    answered: set[int] = set()
    requests_made = 0
    while answered != workers and requests_made < 500:
        answered.add(fresh_get(server, "/healthz").json()["worker"]["pid"])
        requests_made += 1
    assert answered == workers, "requests never reached every worker"
    before = in_flight(scrape(server.url + "/metrics"))
    assert set(before) == {str(p) for p in workers}
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while victim in server.worker_pids() or len(server.worker_pids()) < 3:
        assert time.monotonic() < deadline, "Gunicorn did not replace the killed worker"
        time.sleep(0.05)
    samples = scrape(server.url + "/metrics")
    after = in_flight(samples)
    assert str(victim) not in after
    assert set(after) <= {str(p) for p in server.worker_pids()}
    assert sum(after.values()) == 1  # only the scrape itself is in flight
    # Its counters are not lost with it.
    healthz = ("spotter_http_requests_total",
               (("method", "GET"), ("route", "/healthz"), ("status", "200")))
    assert samples[healthz] == requests_made


def test_a_multiprocess_dir_hidden_by_a_volume_is_created_at_start(
    redis_url: str, api_server: ServerFactory, tmp_path: Path
) -> None:
    volume = tmp_path / "volume"  # an empty volume mounted over the image's directory
    volume.mkdir()
    wanted = volume / "spotter" / "metrics"
    server = api_server({"REDIS_URL": redis_url, "PROMETHEUS_MULTIPROC_DIR": str(wanted)},
                        workers=2, threads=2)
    assert wanted.is_dir()
    for _ in range(10):
        assert fresh_get(server, "/regions").status_code == 200
    assert scrape(server.url + "/metrics")[REGIONS_200] == 10


@pytest.mark.parametrize("case", ["parent is a file", "path is a file"])
def test_an_unusable_multiprocess_dir_stops_startup_naming_it(
    redis_url: str, tmp_path: Path, case: str
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    path = blocker / "metrics" if case == "parent is a file" else blocker
    env = {"PATH": os.environ["PATH"], "REDIS_URL": redis_url, "API_HOST": "127.0.0.1",
           "API_PORT": str(free_port()), "PROMETHEUS_MULTIPROC_DIR": str(path)}
    result = subprocess.run([sys.executable, "-m", "spotter.api.serve"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"PROMETHEUS_MULTIPROC_DIR={path}: cannot create or write" in result.stderr
    assert "Traceback" not in result.stderr


def test_scrape_of_34_regions_by_200_types_is_three_round_trips_and_measured(
    redis_url: str, store: Store, api_server: ServerFactory
) -> None:
    regions = [f"xx-test-{i}" for i in range(1, 35)]
    types = [f"{family}.{size}" for family in ("m5", "c5", "r5", "t3", "m6i", "c6i", "r6i",
                                                "m7g", "c7g", "r7g")
             for size in ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge",
                          "16xlarge", "24xlarge", "metal", "medium", "small", "micro",
                          "nano", "32xlarge", "48xlarge", "3xlarge", "6xlarge", "9xlarge",
                          "18xlarge", "56xlarge")]
    assert len(types) == 200
    for region in regions:
        zones = [f"{region}{letter}" for letter in "abcd"]
        seed(store, region, {t: {z: f"0.{(i * 7 + j) % 9000 + 1000:04d}"
                                 for j, z in enumerate(zones)} for i, t in enumerate(types)},
        )
    server = api_server({"REDIS_URL": redis_url}, workers=1, threads=2)
    figures = []
    with requests.Session() as session:  # one kept-alive connection: the same worker each time

        def timed(encoding: str) -> tuple[float, int]:
            started = time.perf_counter()
            answer = session.get(server.url + "/metrics", timeout=60, stream=True,
                                 headers={"Accept-Encoding": encoding})
            wire = answer.raw.read(decode_content=False)
            assert answer.status_code == 200
            return time.perf_counter() - started, len(wire)

        for label, encoding, runs in (("cold", "identity", 1), ("warm", "identity", 5),
                                      ("warm", "gzip", 5)):
            results = sorted(timed(encoding) for _ in range(runs))
            seconds, size = results[len(results) // 2]
            figures.append(f"{label} {encoding}: {seconds * 1000:.0f} ms, {size / 1e6:.2f} MB"
                           + (f" (median of {runs})" if runs > 1 else ""))
        text = session.get(server.url + "/metrics", headers={"Accept-Encoding": "identity"},
                           timeout=60).text
    series = sum(1 for line in text.splitlines() if line.startswith(PRICE + "{"))
    assert series == 34 * 200 * 4
    store_part = scrape(server.url + "/metrics")[("spotter_metrics_store_seconds", ())]
    print(f"\nscrape of {series} price series (34 regions x 200 types x 4 zones): "
          + "; ".join(figures) + f"; store part of a warm scrape: {store_part * 1000:.0f} ms")


def test_scrape_matches_what_real_fetchers_stored_series_by_series(
    redis_url: str, store: Store, api_server: ServerFactory, replay_server,
    fetchers: Callable[..., FetcherProcess],
) -> None:
    types = ("m5.large", "c5.large", "t3.micro", "r5.xlarge")
    shards = (("us-east-1", "eu-west-1"), ("us-west-2", "ap-northeast-1"))
    env = {"REDIS_URL": redis_url, "SPOTTER_AWS_ENDPOINT_URL": replay_server.url}
    running = [fetchers(env, shard, types, metrics_port=free_port()) for shard in shards]
    server = api_server({"REDIS_URL": redis_url}, workers=3, threads=2)

    expected = {}
    for itype in types:
        for region, prices in store.best_price_view(itype, DEFAULT_PRODUCT).entries.items():
            for z in prices.zones:
                labels = (("instance_type", itype), ("product", DEFAULT_PRODUCT),
                          ("region", region), ("zone", z.zone), ("zone_id", z.zone_id or ""))
                expected[(PRICE, labels)] = float(z.price)
    # The store holds the recorded prices, so the scrape is checked against the source too.
    recorded = latest_prices(bundled_dataset_path(), set(types))
    regions = {r for shard in shards for r in shard}
    assert {(dict(k[1])["instance_type"], dict(k[1])["region"], dict(k[1])["zone_id"]): v
            for k, v in expected.items()} == {
        key: float(p) for key, p in recorded.items() if key[1] in regions}

    statuses = store.region_statuses()
    for _ in range(6):  # fresh connections: several workers answer, all the same
        samples = scrape(server.url + "/metrics")
        assert {k: v for k, v in samples.items() if k[0] == PRICE} == expected
        for region in regions:
            key = (("region", region),)
            assert samples[("spotter_region_last_success_timestamp_seconds", key)] == \
                statuses[region].last_success
            assert samples[("spotter_region_quotes", key)] == statuses[region].quotes
            assert samples[("spotter_region_state", (("region", region), ("state", "ok")))] == 1
        assert samples[("spotter_store_up", ())] == 1
    # Each fetcher reports the same last success for its own regions.
    for fetcher, shard in zip(running, shards, strict=True):
        own = scrape(fetcher.metrics_url)
        for region in shard:
            assert own[("spotter_region_last_success_timestamp_seconds",
                        (("region", region),))] == statuses[region].last_success
