"""Load generators: wrk against an HTTP server, redis-benchmark against Redis; parsed results."""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Load:
    """One measured run: throughput, latency percentiles (seconds) and failed answers."""

    rps: float
    p50: float
    p99: float
    errors: int = 0
    requests: int = 0
    #: CPU seconds (user + system) the server's processes spent per request, when measured.
    cpu_per_request: float | None = None


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> Load:
    """Requests/sec, the 50% and 99% lines of --latency, non-2xx answers and socket errors."""
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _seconds(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        errors += sum(int(g) for g in sockets.groups())
    done = re.search(r"(\d+) requests in", output)
    return Load(rps, p50, p99, errors, int(done.group(1)) if done else 0)


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    pids: Callable[[], list[int]] | None = None,
) -> Load:
    """One wrk run; one thread is enough to drive 64 keep-alive connections and leaves the
    other core to the server. With `pids` (the server's processes), also their CPU time per
    request: unlike throughput, barely moved by whatever else the machine runs."""
    before = cpu_seconds(pids()) if pids else 0.0
    argv = [
        "wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--latency", "--timeout", "5s", url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True)
    result = parse_wrk(done.stdout)
    if pids and result.requests:
        spent = cpu_seconds(pids()) - before
        result = dataclasses.replace(result, cpu_per_request=spent / result.requests)
    return result


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def redis_benchmark(port: int, command: list[str], *, clients: int, requests: int) -> Load:
    """One command, `requests` times from `clients` connections (no pipelining)."""
    argv = [
        "redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
        "-n", str(requests), "--csv", *command,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    row = rows[-1]
    return Load(
        float(row["rps"]), float(row["p50_latency_ms"]) / 1000, float(row["p99_latency_ms"]) / 1000
    )


def combined(loads: list[Load]) -> Load:
    """The ceiling of a request that needs every one of these commands: Redis spends the sum of
    their per-command times on it (1 / sum(1 / rps)); latency is the slowest command's (a lower
    bound, as one pipelined round trip carries them all)."""
    return Load(
        1.0 / sum(1.0 / load.rps for load in loads),
        max(load.p50 for load in loads),
        max(load.p99 for load in loads),
    )


def versions() -> dict[str, str]:
    """wrk's, redis-server's and redis-benchmark's versions, as "wrk 4.1.0 (debian/...)"."""
    found = {}
    for name, argv, pattern in (
        ("wrk", ["wrk", "--version"], r"wrk (\S+)"),
        ("redis", ["redis-server", "--version"], r"v=(\S+)"),
        ("redis-benchmark", ["redis-benchmark", "--version"], r"redis-benchmark (\S+)"),
    ):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except OSError:
            found[name] = f"{name}: not found"
            continue
        line = ((done.stdout or done.stderr).splitlines() or [""])[0]
        match = re.search(pattern, line)
        version = match.group(1) if match else line.strip()
        label = {"redis": "Redis"}.get(name, name)
        found[name] = f"{label} {version.split('/')[-1].split('-')[0]}" + (
            f" ({version})" if "/" in version else ""
        )
    return found
