"""Soak: at least ten minutes of mixed API load under real Gunicorn while a `spotter fetch` process
rewrites every snapshot every few seconds. Every answer must be correct, worker memory must stay
flat after warm-up and Redis connections within workers x pool size + the fetcher's pool.

`make chaos` runs it (SPOTTER_SOAK_SECONDS, default 600); the figures go to docs/reliability.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from support.apiserver import ApiServer
from support.expected import Expectations
from support.figures import FigureLog, seconds
from support.loadgen import LoadGenerator

SOAK_SECONDS = float(os.environ.get("SPOTTER_SOAK_SECONDS", "600"))
REGIONS = ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1")
TYPES = ("r5.large", "m5.xlarge", "c5.xlarge", "r5.xlarge", "m5.4xlarge", "c5.2xlarge")
WORKERS, THREADS, POOL = 2, 4, 10
FETCH_INTERVAL = "3s"
SAMPLE_EVERY = 5.0
WARM_UP = 60.0


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def start_fetcher(replay_url: str, redis_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "REDIS_URL": redis_url,
        "SPOTTER_AWS_ENDPOINT_URL": replay_url, "SPOTTER_SOURCE": "replay",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "SPOTTER_REDIS_POOL_SIZE": str(POOL),
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "spotter.cli", "fetch", "--regions", ",".join(REGIONS),
             "--instance-types", ",".join(TYPES), "--products", "Linux/UNIX,Windows",
             "--interval", FETCH_INTERVAL],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def wait_for_first_cycle(log: Path, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while "cycle 1:" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(SOAK_SECONDS + 600)
def test_soak_mixed_load_with_fetch_cycles(
    replay_server: Any, redis_url: str, api_server: Callable[..., ApiServer], tmp_path: Path,
    figures: FigureLog,
) -> None:
    fetch_log = tmp_path / "fetch.log"
    # Connections open before this test (other tests' idle clients in this process, when the
    # whole suite runs) are not the soak's: the bound is counted above them.
    with redis.Redis.from_url(redis_url) as probe:
        baseline = int(probe.info("clients")["connected_clients"]) - 1
    fetcher = start_fetcher(replay_server.url, redis_url, fetch_log)
    try:
        wait_for_first_cycle(fetch_log)
        server = api_server({"REDIS_URL": redis_url, "SPOTTER_REDIS_POOL_SIZE": str(POOL)},
                            workers=WORKERS, threads=THREADS)
        workers = sorted(server.worker_pids())
        expected = Expectations(REGIONS, TYPES)
        monitor = redis.Redis.from_url(redis_url)
        samples: list[dict[str, Any]] = []
        started = time.monotonic()
        # Bounded by time; the count bound (about 3,000 a second) is only a safety stop.
        with LoadGenerator(server.url, expected.paths(), expected.check, threads=6,
                           max_seconds=SOAK_SECONDS + 60,
                           max_requests=int(SOAK_SECONDS * 3000)) as load:
            while time.monotonic() - started < SOAK_SECONDS:
                clients = monitor.info("clients")
                samples.append({
                    "t": time.monotonic() - started,
                    "rss": {pid: rss_kib(pid) for pid in workers},
                    "fetcher_rss": rss_kib(fetcher.pid),
                    "connections": int(clients["connected_clients"]),
                    "redis_memory": int(monitor.info("memory")["used_memory"]),
                })
                assert fetcher.poll() is None, fetch_log.read_text()[-2000:]
                assert server.worker_pids() == set(workers), "a worker was replaced"
                time.sleep(SAMPLE_EVERY)
        result = load.result
        monitor.close()
    finally:
        fetcher.terminate()
        fetcher.wait(30)
    cycles = len(re.findall(r"cycle \d+:", fetch_log.read_text(errors="replace")))
    failed_cycles = len(re.findall(r"cycle \d+:.*failed", fetch_log.read_text(errors="replace")))

    assert result.wrong_total == 0, result.wrong[:5]
    # 404 only as no_spot_offer for a type no zone of a region offers (the checker says so).
    assert set(result.statuses) <= {200, 404}, result.summary()
    assert not result.errors, result.summary()
    assert failed_cycles == 0
    assert cycles >= SOAK_SECONDS / 10
    # The load lasted the whole soak (it was not cut short by its count bound).
    assert result.requests < SOAK_SECONDS * 3000 and result.seconds >= SOAK_SECONDS
    # Connections: each worker's pool, the fetcher's pool, this test's monitor client.
    bound = baseline + WORKERS * POOL + POOL + 1
    most = max(s["connections"] for s in samples)
    assert most <= bound, (most, bound)
    # Memory: after warm-up, no worker grows by more than a quarter (and 16 MiB) to the end.
    warm = next(s for s in samples if s["t"] >= min(WARM_UP, SOAK_SECONDS / 4))
    last = samples[-1]
    for pid in workers:
        assert last["rss"][pid] <= warm["rss"][pid] * 1.25 + 16 * 1024, (pid, warm, last)
    assert last["fetcher_rss"] <= warm["fetcher_rss"] * 1.25 + 16 * 1024
    assert "Traceback" not in server.output()

    def mib(kib: float) -> str:
        return f"{kib / 1024:.1f}"

    figures.record(
        f"Soak: {SOAK_SECONDS / 60:.0f} min of mixed API load, fetch every {FETCH_INTERVAL}",
        tried=f"{result.requests} requests ({result.rate:.0f}/s, 6 clients), {cycles} fetch "
        f"cycles x {len(REGIONS)} regions x 2 products",
        served=f"{result.statuses[200]}x200 + {result.statuses[404]}x404 no_spot_offer, all "
        "correct; 0 errors",
        lost="nothing",
        recovery="n/a (no failure)",
        group="soak",
        worker_rss_mib={str(pid): [mib(warm["rss"][pid]), mib(last["rss"][pid])]
                        for pid in workers},
        first_rss_mib={str(pid): mib(samples[0]["rss"][pid]) for pid in workers},
        fetcher_rss_mib=[mib(samples[0]["fetcher_rss"]), mib(warm["fetcher_rss"]),
                         mib(last["fetcher_rss"])],
        connections_max=most, connections_bound=bound, connections_before=baseline,
        connections_series=sorted({s["connections"] for s in samples}),
        redis_memory_mib=[mib(samples[0]["redis_memory"] / 1024),
                          mib(last["redis_memory"] / 1024)],
        duration=seconds(result.seconds),
    )
