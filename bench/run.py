"""`make bench`: serving, scaling, fetching and memory figures of Spotter next to their ceilings,
measured side by side in one run on this machine, printed as one table.

`python -m bench.run [--seconds 6] [--json results.json] [--doc docs/benchmarks.md]`
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import fetching, report, serving
from bench.dataset import synthesize
from bench.load import versions
from bench.procs import start_redis, start_replay
from bench.report import Table
from spotter.model import DEFAULT_INSTANCE_TYPES
from spotter.replay.dataset import load_dataset

#: The type and region the serving figures ask for: recorded in 16 of the 17 regions.
SERVED_TYPE, SERVED_REGION = "r5.xlarge", "us-east-1"
#: /best-price by region count asks for a type every synthetic region holds.
SCALE_TYPE = "c5.xlarge"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    import falcon
    import gunicorn
    import redis

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "falcon": falcon.__version__,
        "gunicorn": gunicorn.__version__,
        "redis_py": redis.__version__,
        **versions(),
        "load_before": os.getloadavg(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=6.0, help="seconds of load per server and figure"
    )
    parser.add_argument("--workers", type=int, default=2, help="Gunicorn workers (both apps)")
    parser.add_argument("--threads", type=int, default=4, help="Gunicorn threads (both apps)")
    parser.add_argument("--json", type=Path, help="also write every raw figure here")
    parser.add_argument("--doc", type=Path, help="write the run into this file's run section")
    parser.add_argument(
        "--only", default="serving,regions,fetching,memory",
        help="comma-separated sections to run (default: all)",
    )
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    started = time.monotonic()
    info = machine()
    print(
        f"machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, {info['redis']}, {info['wrk']}; "
        f"load average {', '.join(f'{x:.2f}' for x in info['load_before'])}",
        flush=True,
    )
    table = Table()
    raw: dict[str, Any] = {"machine": info, "settings": vars(args) | {"json": str(args.json)}}
    with (
        tempfile.TemporaryDirectory(prefix="spotter-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        step = _stepper(started)
        step("synthesising the 34-region x 200-type dataset")
        synth_path = workdir / "synthetic-34x200.jsonl.gz"
        summary = synthesize(synth_path)
        types200 = list(summary["instance_types"])  # type: ignore[call-overload]
        recorded, synthetic = load_dataset(), load_dataset(synth_path)
        step("starting Redis and two replay endpoints")
        redis_proc = start_redis(workdir)
        stack.callback(redis_proc.stop)
        redis_url = f"redis://127.0.0.1:{redis_proc.port}/0"
        replay_recorded = start_replay(None, workdir, "replay-recorded", latency=0)
        stack.callback(replay_recorded.stop)
        replay_synthetic = start_replay(synth_path, workdir, "replay-synthetic", latency=0)
        stack.callback(replay_synthetic.stop)
        defaults = list(DEFAULT_INSTANCE_TYPES)

        step("seeding: 17 recorded regions x 22 default types")
        fetching.fetch(redis_url, replay_recorded, recorded.regions, defaults)
        paths = serving.routes(SERVED_TYPE, SERVED_REGION)
        step(f"starting Gunicorn ({args.workers} workers x {args.threads} threads): API, "
             "API without read cache, bare Falcon")
        servers = serving.start_servers(
            redis_url, workdir, paths, workers=args.workers, threads=args.threads
        )
        stack.callback(servers.stop)
        if "serving" in only:
            step("1 serving: wrk at 1, 16, 64 connections; redis-benchmark")
            raw["serving"] = serving.serving(table, servers, paths, redis_proc.port, args.seconds)
            raw["api_memory"] = serving.memory(table, servers)
        if "regions" in only:
            step("2 /best-price with 1, 17 and 34 regions of data")
            def seed(regions: list[str]) -> Callable[[], Any]:
                return lambda: fetching.fetch(redis_url, replay_synthetic, regions, types200)

            seeds = {
                1: seed([SERVED_REGION]),
                17: seed(list(recorded.regions)),
                34: seed(list(synthetic.regions)),
            }
            raw["regions"] = serving.by_regions(
                table, servers.api, f"/best-price/{SCALE_TYPE}", seeds, args.seconds
            )
        servers.stop()

        cases = [
            fetching.Case("17x22", replay_recorded, recorded, list(recorded.regions), defaults),
            fetching.Case("34x200", replay_synthetic, synthetic, list(synthetic.regions), types200),
        ]
        raw["fetching"] = {}
        for case in cases if "fetching" in only else []:
            step(f"3 fetching {case.name} via the replay endpoint, {fetching.LATENCY:g}s a call")
            raw["fetching"][case.name] = fetching.cycle_figures(table, redis_url, case)
        if "memory" in only:
            step("4 memory: fetcher RSS and Redis bytes")
            raw["redis_memory"] = fetching.redis_memory(table, redis_url, cases[1])
    info["load_after"] = os.getloadavg()
    info["seconds"] = round(time.monotonic() - started, 1)
    met = [row for row in table.rows if row.met is not None]
    summary = (
        f"targets met: {sum(1 for row in met if row.met)} of {len(met)}; "
        f"run took {info['seconds']:.0f}s; load average after: "
        f"{', '.join(f'{x:.2f}' for x in info['load_after'])}"
    )
    print()
    print(table.markdown())
    print()
    print(summary)
    if args.doc:
        report.record(args.doc, run_text(info, args, table, summary))
    if args.json:
        raw["table"] = table.as_json()
        args.json.write_text(json.dumps(raw, indent=1, default=_plain))
    return 0


def run_text(info: dict[str, Any], args: argparse.Namespace, table: Table, summary: str) -> str:
    """The run as docs/benchmarks.md records it: when, on what, how loaded, the table."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    before = ", ".join(f"{x:.2f}" for x in info["load_before"])
    return "\n".join([
        f"Run of {when}: `make bench`, {info['seconds']:.0f} s.",
        "",
        f"- Machine: {info['nproc']} CPUs (`nproc`), {info['cpu']}, {info['memory_gib']} GiB, "
        f"Linux {info['kernel']}",
        f"- Python {info['python']}, Falcon {info['falcon']}, Gunicorn {info['gunicorn']}, "
        f"redis-py {info['redis_py']}; {info['redis']}, {info['redis-benchmark']}; "
        f"{info['wrk']}",
        f"- Load average (1, 5, 15 min) before the run: {before}",
        f"- Gunicorn for both apps: {args.workers} workers x {args.threads} threads (gthread); "
        f"each load figure: the median of three {max(1, round(args.seconds / 3))} s wrk runs "
        "(one thread), ordered API, ceiling, ceiling, API, API, ceiling",
        "",
        table.markdown(),
        "",
        summary,
    ])


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)  # type: ignore[arg-type]
    return str(value)


def _stepper(started: float) -> Callable[[str], None]:
    def step(text: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {text}", file=sys.stderr, flush=True)

    return step


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
