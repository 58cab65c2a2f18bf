"""The processes a benchmark run starts: Redis, Gunicorn (the API or the baseline app), the replay
endpoint. Each is stopped by its own handle, never by name."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
# Enough of the environment to run Python; nothing of the developer's Spotter settings leaks in.
_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**extra: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    # The replay endpoint checks that calls are signed, not by whom.
    env.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_EC2_METADATA_DISABLED="true"
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    """A started process, its port and its log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return [int(pid) for pid in path.read_text().split()]
        return []

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def start(argv: list[str], env: dict[str, str], workdir: Path, name: str, port: int) -> Proc:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return Proc(process, port, log)


def start_redis(workdir: Path) -> Proc:
    port = free_port()
    argv = [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no",
    ]
    proc = start(argv, base_env(), workdir, "redis", port)
    client = redis.Redis(port=port, socket_timeout=1)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            if proc.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start:\n{proc.tail()}") from None
            time.sleep(0.05)


def start_gunicorn(
    app: str, env: dict[str, str], workdir: Path, name: str, *, workers: int, threads: int
) -> Proc:
    """Gunicorn with Spotter's conf (the same settings for the API and the baseline)."""
    port = free_port()
    metrics = workdir / f"prom-{name}"
    metrics.mkdir(exist_ok=True)
    full = base_env(
        API_HOST="127.0.0.1", API_PORT=str(port), GUNICORN_WORKERS=str(workers),
        SPOTTER_GUNICORN_THREADS=str(threads), PROMETHEUS_MULTIPROC_DIR=str(metrics),
        LOG_LEVEL="WARNING",
    )
    full.update(env)
    argv = [sys.executable, "-m", "gunicorn", app, "-c", "python:spotter.api.gunicorn_conf"]
    proc = start(argv, full, workdir, name, port)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(proc.url + "/__bench_probe__", timeout=2):
                pass
        except urllib.error.HTTPError:
            pass  # any HTTP answer (404) means a worker serves
        except OSError:
            if proc.process.poll() is not None or time.monotonic() > deadline:
                proc.stop()
                raise RuntimeError(f"gunicorn {app} did not start:\n{proc.tail()}") from None
            time.sleep(0.1)
            continue
        if len(proc.children()) >= workers:
            return proc
        time.sleep(0.1)


def start_replay(dataset: Path | None, workdir: Path, name: str, *, latency: float) -> Proc:
    """`spotter replay` in its own process (so it never competes with a fetcher for a GIL)."""
    port = free_port()
    argv = [sys.executable, "-m", "spotter.cli", "replay", "--port", str(port)]
    if dataset is not None:
        argv += ["--dataset", str(dataset)]
    if latency:
        argv += ["--latency", str(latency)]
    proc = start(argv, base_env(), workdir, name, port)
    deadline = time.monotonic() + 60
    while True:
        try:
            replay_admin(proc, "health")
            return proc
        except OSError:
            if proc.process.poll() is not None or time.monotonic() > deadline:
                proc.stop()
                raise RuntimeError(f"spotter replay did not start:\n{proc.tail()}") from None
            time.sleep(0.1)


def replay_admin(proc: Proc, path: str, *, post: bool = False) -> dict:
    request = urllib.request.Request(
        f"{proc.url}/__replay__/{path}",
        data=b"{}" if post else None,
        method="POST" if post else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
