"""Serving figures: the API under Gunicorn next to a bare Falcon app (same Gunicorn settings) and
next to redis-benchmark of the Redis commands one request issues; and /best-price by region count.
"""

from __future__ import annotations

import json
import statistics
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import load
from bench.procs import Proc, rss_bytes, start_gunicorn
from bench.report import Table, mib, ms, rate
from spotter.api.serve import APP
from spotter.store.keys import Keys

BASELINE_APP = "bench.baseline_app:app"
CONCURRENCY = (1, 16, 64)
PRODUCT_SLUG_KEYS = Keys()


@dataclass(frozen=True)
class Route:
    name: str
    template: str
    path: str
    redis: list[list[str]]  # the commands one uncached request sends (one pipeline)


def routes(instance_type: str, region: str) -> list[Route]:
    k, product = PRODUCT_SLUG_KEYS, "Linux/UNIX"
    return [
        Route(
            "/best-price",
            "/best-price/{instance_type}",
            f"/best-price/{instance_type}",
            [["HGETALL", k.quotes(product, instance_type)], ["SMEMBERS", k.watched()]],
        ),
        Route(
            "/spot-prices",
            "/spot-prices/{region}/{instance_type}",
            f"/spot-prices/{region}/{instance_type}",
            [
                ["HGET", k.quotes(product, instance_type), region],
                ["HGETALL", k.region_status(region)],
                ["SISMEMBER", k.watched(), region],
                ["HGET", k.catalog(), region],
                ["EXISTS", k.catalog()],
                ["EXISTS", k.freshness(product, region)],
            ],
        ),
    ]


@dataclass
class Servers:
    """The API (read cache on), the API with the read cache off, and the baseline app."""

    api: Proc
    uncached: Proc
    baseline: Proc
    bodies: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        for proc in (self.api, self.uncached, self.baseline):
            proc.stop()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status}")
        return answer.read()


def start_servers(
    redis_url: str, workdir: Path, paths: list[Route], *, workers: int, threads: int
) -> Servers:
    env = {"REDIS_URL": redis_url}
    api = start_gunicorn(APP, env, workdir, "api", workers=workers, threads=threads)
    uncached = start_gunicorn(
        APP, {**env, "SPOTTER_READ_CACHE": "off"}, workdir, "api-uncached",
        workers=workers, threads=threads,
    )
    bodies = {route.template: get(api.url + route.path).decode() for route in paths}
    bodies_file = workdir / "bodies.json"
    bodies_file.write_text(json.dumps(bodies))
    baseline = start_gunicorn(
        BASELINE_APP, {"SPOTTER_BENCH_BODIES": str(bodies_file)}, workdir, "baseline",
        workers=workers, threads=threads,
    )
    for route in paths:
        same = get(baseline.url + route.path)
        if len(same) != len(bodies[route.template]):
            raise RuntimeError(f"baseline body of {route.path} differs in size")
    return Servers(api, uncached, baseline, bodies)


#: The order of the runs of a pair: each side three times, so that a drift of the machine's load
#: falls on both alike, and one disturbed run does not decide (medians are kept).
ORDER = (0, 1, 1, 0, 0, 1)


def measure_pair(
    a: Proc, b: Proc, path: str, connections: int, seconds: float
) -> tuple[load.Load, load.Load]:
    """a and b, `seconds` each in all, in the order ORDER; per side the median of its runs,
    with the CPU its workers spent per request."""
    each = max(1, round(seconds / ORDER.count(0)))
    procs = (a, b)
    for proc in procs:
        load.wrk(proc.url + path, connections=connections, seconds=1)  # warm: connections
    runs: tuple[list[load.Load], list[load.Load]] = ([], [])
    for side in ORDER:
        proc = procs[side]
        runs[side].append(
            load.wrk(proc.url + path, connections=connections, seconds=each, pids=proc.children)
        )
    return _median(runs[0]), _median(runs[1])


def _median(loads: list[load.Load]) -> load.Load:
    cpu = [x.cpu_per_request for x in loads if x.cpu_per_request is not None]
    return load.Load(
        statistics.median(x.rps for x in loads),
        statistics.median(x.p50 for x in loads),
        statistics.median(x.p99 for x in loads),
        sum(x.errors for x in loads),
        sum(x.requests for x in loads),
        statistics.median(cpu) if cpu else None,
    )


def us(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1e6:.0f} us"


def serving(
    table: Table, servers: Servers, paths: list[Route], redis_port: int, seconds: float
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for route in paths:
        for c in CONCURRENCY:
            api, ceiling = measure_pair(servers.api, servers.baseline, route.path, c, seconds)
            if api.errors or ceiling.errors:
                raise RuntimeError(f"{route.path} c={c}: {api.errors} failed answers")
            redis_loads = [
                _median([
                    load.redis_benchmark(
                        redis_port, command, clients=c, requests=10_000 if c == 1 else 50_000
                    )
                    for _ in range(3)
                ])
                for command in route.redis
            ]
            data = load.combined(redis_loads)
            raw[f"{route.name} c={c}"] = {"api": api, "framework": ceiling, "redis": data}
            where = f"1 {route.name}"
            table.add(
                where, f"c={c} throughput vs framework ceiling", rate(api.rps), rate(ceiling.rps),
                api.rps / ceiling.rps, ">= 0.80", lambda r: r >= 0.8,
            )
            table.add(
                where, f"c={c} p50 latency", ms(api.p50), ms(ceiling.p50), api.p50 / ceiling.p50
            )
            p99_target = ("<= 1.50", lambda r: r <= 1.5) if c == 16 else ("", None)
            table.add(
                where, f"c={c} p99 latency", ms(api.p99), ms(ceiling.p99), api.p99 / ceiling.p99,
                *p99_target,
            )
            if api.cpu_per_request and ceiling.cpu_per_request:
                table.add(
                    where, f"c={c} workers' CPU per request (steady under outside load)",
                    us(api.cpu_per_request), us(ceiling.cpu_per_request),
                    api.cpu_per_request / ceiling.cpu_per_request,
                )
            table.add(
                where, f"c={c} data-layer ceiling (redis-benchmark, {len(route.redis)} cmds)",
                rate(data.rps), rate(api.rps), data.rps / api.rps,
            )
        uncached, cached = measure_pair(servers.uncached, servers.api, route.path, 16, seconds)
        raw[f"{route.name} uncached c=16"] = uncached
        table.add(
            f"1 {route.name}", "c=16 read cache off (every request to Redis) vs on",
            rate(uncached.rps), rate(cached.rps), uncached.rps / cached.rps,
        )
    return raw


def worker_rss(proc: Proc) -> int:
    return max((rss_bytes(pid) for pid in proc.children()), default=0)


def memory(table: Table, servers: Servers) -> dict[str, int]:
    api, baseline = worker_rss(servers.api), worker_rss(servers.baseline)
    table.add("4 memory", "API worker RSS vs bare Falcon worker", mib(api), mib(baseline),
              api / baseline)
    return {"api_worker_rss": api, "baseline_worker_rss": baseline}


def by_regions(
    table: Table, api: Proc, path: str, counts: dict[int, Any], seconds: float
) -> dict[int, dict[str, load.Load]]:
    """`counts`: region count -> a callable that loads that many regions' data into Redis (and
    only those). Round after round each count is loaded and measured in turn, three times; per
    count the median of its rounds, so that a drift of the machine's load falls on all alike."""
    runs: dict[int, dict[str, list[load.Load]]] = {n: {"c1": [], "c16": []} for n in counts}
    each = max(1, round(seconds / 3))
    for _ in range(3):
        for count, seed in counts.items():
            seed()
            get(api.url + path)
            load.wrk(api.url + path, connections=1, seconds=1)
            runs[count]["c1"].append(load.wrk(api.url + path, connections=1, seconds=each))
            runs[count]["c16"].append(load.wrk(api.url + path, connections=16, seconds=each))
    raw = {n: {c: _median(loads) for c, loads in by_c.items()} for n, by_c in runs.items()}
    first = min(raw)
    for count, loads in raw.items():
        base = raw[first]
        target = ("<= 1.20", lambda r: r <= 1.2) if count == max(raw) else ("", None)
        table.add(
            "2 regions", f"/best-price p50 c=1, {count} regions vs {first}",
            ms(loads["c1"].p50), ms(base["c1"].p50), loads["c1"].p50 / base["c1"].p50, *target,
        )
        table.add(
            "2 regions", f"/best-price c=16 throughput, {count} regions vs {first}",
            rate(loads["c16"].rps), rate(base["c16"].rps), loads["c16"].rps / base["c16"].rps,
        )
    return raw
