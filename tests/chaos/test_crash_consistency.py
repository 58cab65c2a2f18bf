"""kill -9 of a fetcher process (`python -m spotter.cli fetch`) in the middle of a cycle, many
times, while readers check on every read that no snapshot is partial or a mix of two fetches.

Each (region, product) snapshot is written by one Lua script, so Redis applies it whole or not
at all: a client that dies mid-command leaves an incomplete command that Redis discards. The
readers read each (region, product) atomically (MULTI/EXEC) and check:
- every type's entry carries the same fetched_at and source (one fetch wrote them all);
- the freshness hash and the snapshot meta agree with the entries;
- every zone of an entry is one fetch's (an entry is one encoded value with one fetched_at).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis

from spotter.model import PRODUCTS
from spotter.store.keys import Keys
from support.datasets import bundled_dataset_path, latest_prices
from support.figures import FigureLog, seconds

# Types offered in (nearly) every recorded region, so every snapshot has many zones.
TYPES = (
    "c5.2xlarge", "c5n.4xlarge", "m4.2xlarge", "m5.12xlarge", "m5.4xlarge", "m5a.8xlarge",
    "m5d.4xlarge", "m6i.2xlarge", "r5.2xlarge", "r5.4xlarge", "r5.8xlarge", "r5.xlarge",
)
REGIONS = (
    "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
    "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
)
KEYS = Keys()


class Violation(AssertionError):
    pass


def check_snapshot(client: redis.Redis, product: str, region: str) -> bool:
    """One atomic read of (product, region); raises Violation when it is not one whole fetch.
    Returns False when nothing is stored yet."""
    pipe = client.pipeline(transaction=True)
    for itype in TYPES:
        pipe.hget(KEYS.quotes(product, itype), region)
    pipe.hgetall(KEYS.freshness(product, region))
    pipe.hgetall(KEYS.snapshot(product, region))
    *entries, fresh, meta = pipe.execute()
    if all(e is None for e in entries) and not fresh and not meta:
        return False
    if any(e is None for e in entries):
        raise Violation(f"{product} {region}: some types stored, others not: a partial snapshot")
    docs = [json.loads(e) for e in entries]
    stamps = {(d["fetched_at"], d["source"]) for d in docs}
    if len(stamps) != 1:
        raise Violation(f"{product} {region}: entries from {len(stamps)} fetches: {stamps}")
    (fetched_at, _), = stamps
    fresh_values = {float(fresh.get(t.encode(), b"nan")) for t in TYPES}
    if fresh_values != {fetched_at}:
        raise Violation(f"{product} {region}: freshness {fresh_values} != entries {fetched_at}")
    if float(meta[b"fetched_at"]) != fetched_at:
        raise Violation(f"{product} {region}: meta {meta[b'fetched_at']!r} != {fetched_at}")
    for doc in docs:
        for zone in doc["zones"]:
            if len(zone) != 4 or float(zone[2]) <= 0:
                raise Violation(f"{product} {region}: a broken zone {zone}")
    return True


class Readers:
    """Threads reading random (product, region) snapshots until stopped, counting violations."""

    def __init__(self, redis_url: str, threads: int = 2) -> None:
        self.url = redis_url
        self.stop = threading.Event()
        self.reads = 0
        self.filled = 0
        self.violations: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        client = redis.Redis.from_url(self.url)
        while not self.stop.is_set():
            product, region = rng.choice(PRODUCTS), rng.choice(REGIONS)
            try:
                filled = check_snapshot(client, product, region)
                problem = None
            except Violation as exc:
                filled, problem = True, str(exc)
            except redis.RedisError:
                time.sleep(0.01)
                continue
            with self.lock:
                self.reads += 1
                self.filled += filled
                if problem and len(self.violations) < 20:
                    self.violations.append(problem)
        client.close()


def fetch_command(replay_url: str, redis_url: str, *, once: bool = False) -> tuple[list[str], dict]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "REDIS_URL": redis_url, "SPOTTER_AWS_ENDPOINT_URL": replay_url,
        "SPOTTER_SOURCE": "replay", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "SPOTTER_FETCH_CONCURRENCY": "8",
    }
    argv = [
        sys.executable, "-m", "spotter.cli", "fetch", "--regions", ",".join(REGIONS),
        "--instance-types", ",".join(TYPES), "--products", "all", "--interval", "1s",
    ]
    return [*argv, "--once"] if once else argv, env


def written_since(client: redis.Redis, since: float) -> int:
    """(product, region) snapshots written after `since` (wall clock)."""
    pipe = client.pipeline(transaction=False)
    for product in PRODUCTS:
        for region in REGIONS:
            pipe.hget(KEYS.snapshot(product, region), "fetched_at")
    return sum(1 for v in pipe.execute() if v is not None and float(v) > since)


def kill_many(
    replay_url: str, redis_url: str, kills: int, tmp_path: Path, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    client = redis.Redis.from_url(redis_url)
    total = len(PRODUCTS) * len(REGIONS)
    mid_cycle = 0
    writes_before_kill: Counter[str] = Counter()
    with Readers(redis_url) as readers:
        for n in range(kills):
            argv, env = fetch_command(replay_url, redis_url)
            started = time.time()
            with (tmp_path / f"fetch-{n}.log").open("wb") as log:
                proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
            # Wait for this process's first write, then kill it a moment later: mid-cycle.
            deadline = time.monotonic() + 60
            while written_since(client, started) == 0 and time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            written = written_since(client, started)
            writes_before_kill["partial cycle" if 0 < written < total else "whole"] += 1
            mid_cycle += 0 < written < total
            # The killed process's region locks would expire after their TTL (30 s): remove
            # them, so the next process writes at once instead of waiting.
            locks = client.keys(KEYS.lock("*"))
            if locks:
                client.delete(*locks)
        time.sleep(0.2)
    assert not readers.violations, readers.violations
    assert readers.filled > 0
    # Nothing lost: one whole fetch afterwards, and every snapshot is whole and correct.
    argv, env = fetch_command(replay_url, redis_url, once=True)
    restarted = time.monotonic()
    assert subprocess.run(argv, env=env, capture_output=True, timeout=120).returncode == 0
    recovery = time.monotonic() - restarted
    expected = latest_prices(bundled_dataset_path(), set(TYPES))
    for region in REGIONS:
        for product in PRODUCTS:
            assert check_snapshot(client, product, region)
        for itype in TYPES:
            raw = client.hget(KEYS.quotes("Linux/UNIX", itype), region)
            assert raw is not None
            got = {z[1]: float(z[2]) for z in json.loads(raw)["zones"]}
            want = {z: float(p) for (t, r, z), p in expected.items() if (t, r) == (itype, region)}
            assert got == want, (region, itype)
    client.close()
    return {
        "kills": kills, "mid_cycle": mid_cycle, "reads": readers.reads,
        "filled": readers.filled, "recovery": recovery,
    }


def record(figures: FigureLog, name: str, run: dict[str, Any]) -> None:
    figures.record(
        name,
        tried=f"{run['kills']} kill -9 ({run['mid_cycle']} with the cycle's snapshots partly "
        f"written); {run['filled']} atomic reads checked",
        served="only whole snapshots: 0 partial, 0 mixed fetches",
        lost="nothing (next fetch rewrote every snapshot, all prices correct)",
        recovery=f"next fetch: {seconds(run['recovery'])} for a whole cycle",
        group="crash",
    )


def test_kill_9_mid_cycle_never_leaves_a_partial_snapshot(
    replay_server_factory: Any, redis_url: str, tmp_path: Path, figures: FigureLog
) -> None:
    server = replay_server_factory(latency=0.02, page_size=200)
    run = kill_many(server.url, redis_url, kills=8, tmp_path=tmp_path, seed=1)
    assert run["mid_cycle"] > 0
    record(figures, "kill -9 of a fetcher mid-cycle (quick)", run)


@pytest.mark.slow
def test_kill_9_mid_cycle_many_times(
    replay_server_factory: Any, redis_url: str, tmp_path: Path, figures: FigureLog
) -> None:
    server = replay_server_factory(latency=0.02, page_size=200)
    run = kill_many(server.url, redis_url, kills=120, tmp_path=tmp_path, seed=2)
    assert run["mid_cycle"] > run["kills"] // 4
    record(figures, "kill -9 of a fetcher mid-cycle", run)


def test_the_readers_would_see_a_partial_or_mixed_snapshot(redis_url: str) -> None:
    """The check is not vacuous: states a non-atomic writer could leave are caught."""
    client = redis.Redis.from_url(redis_url)
    product, region = "Linux/UNIX", "us-east-1"

    def entry(at: float) -> str:
        return json.dumps({"fetched_at": at, "source": "replay",
                           "zones": [["us-east-1a", "use1-az1", "0.1", "2024-01-01T00:00:00Z"]]})

    client.hset(KEYS.quotes(product, TYPES[0]), region, entry(2.0))
    with pytest.raises(Violation, match="partial"):
        check_snapshot(client, product, region)
    for itype in TYPES[1:]:
        client.hset(KEYS.quotes(product, itype), region, entry(1.0))
    with pytest.raises(Violation, match="2 fetches"):
        check_snapshot(client, product, region)
    client.hset(KEYS.quotes(product, TYPES[0]), region, entry(1.0))
    client.hset(KEYS.freshness(product, region), mapping={t: "1.0" for t in TYPES})
    client.hset(KEYS.snapshot(product, region), "fetched_at", "0.5")
    with pytest.raises(Violation, match="meta"):
        check_snapshot(client, product, region)
    client.hset(KEYS.snapshot(product, region), "fetched_at", "1.0")
    assert check_snapshot(client, product, region)
    client.close()
