"""One fetch cycle in a process of its own, as `spotter fetch --once` would run it; prints JSON.

`python -m bench.fetch_child --redis URL --endpoint URL --regions a,b --types t1,t2`
The JSON holds, per cycle, the wall time, each region's outcome and the time of every snapshot
write to Redis; and this process's peak RSS. With --cycles 2 the second cycle runs with warm
clients and zone maps, as every cycle after a fetcher's first does.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any

from spotter.config import Settings
from spotter.fetcher.loop import Fetcher
from spotter.model import Snapshot
from spotter.store import Store


def run(args: argparse.Namespace) -> dict[str, Any]:
    env = {
        "REDIS_URL": args.redis,
        "SPOTTER_AWS_ENDPOINT_URL": args.endpoint,
        "SPOTTER_SOURCE": "replay",
        "UPDATE_INTERVAL": "300",
    }
    if args.concurrency:
        env["SPOTTER_FETCH_CONCURRENCY"] = str(args.concurrency)
    settings = Settings.from_env(env)
    store = Store.from_settings(settings, read_cache=False)
    writes: list[float] = []
    write_snapshot = store.write_snapshot

    def timed_write(snapshot: Snapshot) -> Any:
        started = time.perf_counter()
        try:
            return write_snapshot(snapshot)
        finally:
            writes.append(time.perf_counter() - started)

    store.write_snapshot = timed_write  # type: ignore[method-assign]
    fetcher = Fetcher(
        settings, store, regions=args.regions.split(","), instance_types=args.types.split(",")
    )
    cycles = []
    for number in range(args.cycles):
        if number:
            # Every type was just stored: only an empty database makes the next cycle fetch all.
            store.client.flushdb()
        del writes[:]
        report = fetcher.run_cycle()
        cycles.append(
            {
                "seconds": report.seconds,
                "outcomes": [
                    {
                        "region": o.region,
                        "state": o.state,
                        "seconds": o.seconds,
                        "calls": o.calls,
                        "pages": o.pages,
                        "quotes": o.quotes,
                    }
                    for o in report.outcomes
                ],
                "write_seconds": list(writes),
            }
        )
    store.close()
    return {
        "concurrency": settings.fetch_concurrency,
        "cycles": cycles,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--regions", required=True)
    parser.add_argument("--types", required=True)
    parser.add_argument("--concurrency", type=int, default=0, help="default: the setting's")
    parser.add_argument(
        "--cycles", type=int, default=1, help="cycles in a row, the database emptied between"
    )
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
