"""Where the time goes: py-spy on one API worker under wrk load, and on a fetch cycle.

`python -m bench.profile [--seconds 8]` prints, for each, the frames with the most samples
(inclusive and self), as docs/benchmarks.md quotes them. py-spy samples the thread holding the
GIL (--gil): where the CPU goes, not where threads wait.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import fetching, load, serving
from bench.dataset import synthesize
from bench.procs import ROOT, base_env, start_gunicorn, start_redis, start_replay
from spotter.api.serve import APP
from spotter.model import DEFAULT_INSTANCE_TYPES
from spotter.replay.dataset import load_dataset

# Next to this Python (a venv's bin) if installed there, else on PATH.
_BESIDE = Path(sys.executable).with_name("py-spy")
PY_SPY = str(_BESIDE) if _BESIDE.exists() else "py-spy"
_NOISE = ("threading.py", "concurrent/futures/thread.py", "<frozen runpy>", "gunicorn/arbiter")


def top_frames(raw: Path, count: int) -> str:
    """The `count` frames present in the most samples, and the ones most often on top."""
    total, inclusive, own = 0, Counter[str](), Counter[str]()
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        samples = int(n)
        total += samples
        frames = [f for f in stack.split(";") if not any(x in f for x in _NOISE)]
        if frames:
            own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    lines = [f"{total} samples; inclusive:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(count)]
    lines.append("self:")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(count)]
    return "\n".join(lines)


def profile_api(workdir: Path, seconds: int, path: str) -> Path:
    redis_proc = start_redis(workdir)
    replay = start_replay(None, workdir, "replay", latency=0)
    try:
        url = f"redis://127.0.0.1:{redis_proc.port}/0"
        recorded = load_dataset()
        fetching.fetch(url, replay, recorded.regions, list(DEFAULT_INSTANCE_TYPES))
        api = start_gunicorn(APP, {"REDIS_URL": url}, workdir, "api", workers=2, threads=4)
        try:
            worker = api.children()[0]
            load.wrk(api.url + path, connections=16, seconds=1)
            out = workdir / "api.raw"
            spy = subprocess.Popen(
                [PY_SPY, "record", "--gil", "-r", "250", "-p", str(worker), "-d", str(seconds),
                 "-f", "raw", "-o", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            load.wrk(api.url + path, connections=16, seconds=seconds + 2)
            spy.wait(60)
            return out
        finally:
            api.stop()
    finally:
        replay.stop()
        redis_proc.stop()


def profile_fetch(workdir: Path) -> Path:
    synth = workdir / "synthetic.jsonl.gz"
    types = list(synthesize(synth)["instance_types"])  # type: ignore[call-overload]
    regions = list(load_dataset(synth).regions)
    redis_proc = start_redis(workdir)
    replay = start_replay(synth, workdir, "replay", latency=fetching.LATENCY)
    try:
        out = workdir / "fetch.raw"
        subprocess.run(
            [PY_SPY, "record", "--gil", "-r", "250", "-f", "raw", "-o", str(out), "--",
             sys.executable, "-m", "bench.fetch_child",
             "--redis", f"redis://127.0.0.1:{redis_proc.port}/0", "--endpoint", replay.url,
             "--regions", ",".join(regions), "--types", ",".join(types), "--cycles", "2"],
            env=base_env(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=300,
        )
        return out
    finally:
        replay.stop()
        redis_proc.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="spotter-profile-") as tmp:
        workdir = Path(tmp)
        for route in serving.routes("r5.xlarge", "us-east-1"):
            print(f"== API worker, GET {route.path}, wrk 16 connections (py-spy --gil)")
            print(top_frames(profile_api(workdir, args.seconds, route.path), args.top))
        print("== fetch: 34 regions x 200 types, 100 ms a call, two cycles (py-spy --gil)")
        print(top_frames(profile_fetch(workdir), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
