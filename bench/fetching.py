"""Fetching figures: one cycle through the replay endpoint with 100 ms added to every call, against
the slowest region fetched alone and the fewest calls the data allows; Redis bytes per quote."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from bench.dataset import minimum_calls
from bench.procs import ROOT, Proc, base_env, replay_admin
from bench.report import Table, mib, ms
from spotter.replay.dataset import Dataset

LATENCY = 0.1
SPOT_ACTION = "DescribeSpotPriceHistory"


@dataclass(frozen=True)
class Case:
    name: str
    replay: Proc
    dataset: Dataset
    regions: list[str]
    types: list[str]


def fetch(
    redis_url: str,
    replay: Proc,
    regions: Sequence[str],
    types: Sequence[str],
    *,
    cycles: int = 1,
    concurrency: int = 0,
    latency: float = 0.0,
) -> dict[str, Any]:
    """bench.fetch_child in a new process against an emptied Redis; its JSON plus the calls
    the replay endpoint answered, by action."""
    redis.Redis.from_url(redis_url).flushall()
    replay_admin(replay, "reset", post=True)  # forgets the calls, and the latency: set it again
    set_latency(replay, latency)
    argv = [
        sys.executable, "-m", "bench.fetch_child", "--redis", redis_url, "--endpoint", replay.url,
        "--regions", ",".join(regions), "--types", ",".join(types), "--cycles", str(cycles),
    ]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    done = subprocess.run(
        argv, env=base_env(), cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"fetch_child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    failed = [o for c in result["cycles"] for o in c["outcomes"] if o["state"] != "ok"]
    if failed:
        raise RuntimeError(f"fetch_child: regions failed: {failed}")
    calls = replay_admin(replay, "calls")["calls"]
    result["calls"] = dict(Counter(call["action"] for call in calls))
    result["spot_calls_by_region"] = dict(
        Counter(call["region"] for call in calls if call["action"] == SPOT_ACTION)
    )
    return result


class ScriptTimes:
    """Redis-side durations of the snapshot writes (EVALSHA with many keys), from SLOWLOG
    logging whatever takes 50 us or more (a write takes longer; the commands it runs inside,
    which SLOWLOG also lists, take a few us); the server's settings are put back afterwards."""

    def __init__(self, redis_url: str) -> None:
        self.client = redis.Redis.from_url(redis_url)

    def __enter__(self) -> ScriptTimes:
        self.saved = self.client.config_get("slowlog-*")
        self.client.config_set("slowlog-max-len", 10_000)
        self.client.config_set("slowlog-log-slower-than", 50)
        self.client.slowlog_reset()
        return self

    def __exit__(self, *exc: object) -> None:
        entries = self.client.slowlog_get(10_000)
        for name, value in self.saved.items():
            self.client.config_set(name, value)
        self.seconds = [
            entry["duration"] / 1e6
            for entry in entries
            if entry["command"].startswith(b"EVALSHA") and _numkeys(entry["command"]) > 2
        ]


def _numkeys(command: bytes) -> int:
    parts = command.split(b" ", 3)
    return int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0


def set_latency(replay: Proc, seconds: float) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{replay.url}/__replay__/faults", data=json.dumps({"latency": seconds}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def slowest_regions(case: Case, minimum: dict[str, int], count: int = 2) -> list[str]:
    """The regions that need the most calls, then hold the most records: the slowest alone."""
    forms = {"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}
    now = case.dataset.end

    def weight(region: str) -> tuple[int, int]:
        found = case.dataset.query(
            region, instance_types=case.types, product_descriptions=forms, start=now, end=now
        )
        return minimum[region], len(found)

    return sorted(case.regions, key=weight, reverse=True)[:count]


#: Repetitions of every fetch measurement; the fastest counts (noise only ever adds time).
REPEAT = 2


def cycle_figures(table: Table, redis_url: str, case: Case) -> dict[str, Any]:
    """All regions, then each of the slowest alone, REPEAT times in turn."""
    minimum = minimum_calls(case.dataset, case.regions, case.types)
    slowest = slowest_regions(case, minimum)
    runs: list[dict[str, Any]] = []
    alone: dict[str, list[dict[str, Any]]] = {region: [] for region in slowest}
    for repeat in range(REPEAT):
        if repeat:
            runs.append(fetch(redis_url, case.replay, case.regions, case.types, cycles=2,
                              latency=LATENCY))
        else:
            with ScriptTimes(redis_url) as scripts:
                runs.append(fetch(redis_url, case.replay, case.regions, case.types, cycles=2,
                                  latency=LATENCY))
        for region in slowest:
            alone[region].append(
                fetch(redis_url, case.replay, [region], case.types, cycles=2, latency=LATENCY)
            )
    run = runs[0]
    where = f"3 fetch {case.name}"
    for index, label in ((0, "first cycle (new process)"), (1, "next cycle (warm clients)")):
        wall = min(r["cycles"][index]["seconds"] for r in runs)
        single = max(
            min(r["cycles"][index]["seconds"] for r in results) for results in alone.values()
        )
        table.add(
            where, f"{label}: wall vs slowest region alone", ms(wall), ms(single), wall / single,
            "<= 2.00", lambda r: r <= 2.0,
        )
    spot_calls = sum(o["calls"] for o in run["cycles"][0]["outcomes"])
    least = sum(minimum.values())
    table.add(
        where, f"{SPOT_ACTION} calls vs the minimum the data needs", str(spot_calls), str(least),
        spot_calls / least, "= 1.00", lambda r: r == 1.0,
    )
    other = {action: n for action, n in run["calls"].items() if action != SPOT_ACTION}
    table.add(
        where, "other calls in both cycles (cached 6 h / 24 h)",
        ", ".join(f"{n} {action}" for action, n in sorted(other.items())) or "none",
    )
    quotes = sum(o["quotes"] for o in run["cycles"][0]["outcomes"])
    writes = [w for r in alone[slowest[0]] for c in r["cycles"] for w in c["write_seconds"]]
    table.add(
        where, f"Redis write per snapshot, region alone ({slowest[0]}, {len(case.types)} types)",
        f"{ms(statistics.median(writes))}",
    )
    table.add(
        where, f"Redis write per snapshot, Redis side (p50 / max of {len(scripts.seconds)}; "
        f"{quotes} quotes a cycle)",
        f"{ms(statistics.median(scripts.seconds))} / {ms(max(scripts.seconds))}",
    )
    in_cycle = [w for cycle in run["cycles"] for w in cycle["write_seconds"]]
    table.add(
        where, "Redis write per snapshot, in the cycle (p50; threads share one GIL)",
        ms(statistics.median(in_cycle)),
    )
    result: dict[str, Any] = {"cycles": runs, "alone": alone, "minimum": minimum}
    if len(case.regions) > SHARD:
        result["shard"] = shard_figure(table, redis_url, case, minimum, alone)
    return result


#: The operator's default regionsPerShard: how many regions one fetcher process gets.
SHARD = 4


def shard_figure(
    table: Table,
    redis_url: str,
    case: Case,
    minimum: dict[str, int],
    alone: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """As the operator deploys it: one fetcher per shard of SHARD regions, each in its own pod.
    The heaviest shard's cycle, next to the slowest region alone."""
    from spotter.operator.planning import plan_shards

    weight = dict.fromkeys(case.regions, 0)
    for rank, region in enumerate(slowest_regions(case, minimum, count=len(case.regions))):
        weight[region] = len(case.regions) - rank
    shards = plan_shards(case.regions, SHARD)
    heaviest = max(shards, key=lambda s: sum(weight[r] for r in s.regions))
    runs = [
        fetch(redis_url, case.replay, heaviest.regions, case.types, cycles=2, latency=LATENCY)
        for _ in range(REPEAT)
    ]
    wall = min(r["cycles"][1]["seconds"] for r in runs)
    single = max(min(r["cycles"][1]["seconds"] for r in results) for results in alone.values())
    table.add(
        f"3 fetch {case.name}",
        f"next cycle of the heaviest of {len(shards)} shards ({SHARD} regions a fetcher, the "
        "operator's default) vs slowest region alone",
        ms(wall), ms(single), wall / single, "<= 2.00", lambda r: r <= 2.0,
    )
    return {"regions": heaviest.regions, "runs": runs}


def redis_memory(table: Table, redis_url: str, case: Case) -> dict[str, Any]:
    """Bytes per stored quote and per history point after one cycle into an empty Redis."""
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    empty = int(client.info("memory")["used_memory"])
    run = fetch(redis_url, case.replay, case.regions, case.types)
    quotes = sum(o["quotes"] for o in run["cycles"][0]["outcomes"])
    used = int(client.info("memory")["used_memory"]) - empty
    quote_bytes = history_bytes = points = 0
    for key in client.scan_iter(match="spotter:q:*", count=1000):
        quote_bytes += int(client.memory_usage(key, samples=0) or 0)
    for key in client.scan_iter(match="spotter:h:*", count=1000):
        history_bytes += int(client.memory_usage(key, samples=0) or 0)
        points += int(client.zcard(key))
    where = "4 memory"
    table.add(where, f"fetcher peak RSS ({case.name}, one cycle)", mib(run["peak_rss_bytes"]))
    table.add(where, f"Redis bytes per quote (quote hashes; {quotes} quotes)",
              f"{quote_bytes / quotes:.0f} B")
    table.add(where, f"Redis bytes per history point ({points} points)",
              f"{history_bytes / points:.0f} B")
    table.add(where, "Redis used_memory growth per quote (all keys of a cycle)",
              f"{used / quotes:.0f} B")
    return {
        "fetcher_peak_rss": run["peak_rss_bytes"], "quotes": quotes, "quote_bytes": quote_bytes,
        "history_points": points, "history_bytes": history_bytes, "used_memory_delta": used,
    }
