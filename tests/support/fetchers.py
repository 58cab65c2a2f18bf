"""`spotter fetch` as a real process against the replay endpoint, and Prometheus text parsing.

Fixture `fetchers`: `fetchers(env, regions, types, metrics_port=0)` starts one with
`start_fetcher`, which returns once its first cycle is logged; all are stopped after the test.
`scrape(url)` parses an exposition into {(sample name, sorted labels): value}.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(url: str) -> Samples:
    """One scrape on a new connection (so any Gunicorn worker may answer it)."""
    answer = requests.get(url, headers={"Connection": "close"}, timeout=30)
    answer.raise_for_status()
    return parse(answer.text)


@dataclass
class FetcherProcess:
    process: subprocess.Popen[str]
    metrics_port: int
    lines: list[str] = field(default_factory=list)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_fetcher(
    env: Mapping[str, str],
    regions: Iterable[str],
    types: Iterable[str],
    *,
    metrics_port: int = 0,
    interval: str = "1h",
    timeout: float = 90,
) -> FetcherProcess:
    """Start `spotter fetch` and wait until its first cycle is logged (it keeps running)."""
    full_env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing", "SPOTTER_SOURCE": "replay",
                "SPOTTER_FETCHER_METRICS_PORT": str(metrics_port), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "spotter.cli", "fetch", "--regions", ",".join(regions),
         "--instance-types", ",".join(types), "--interval", interval],
        env=full_env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    fetcher = FetcherProcess(process, metrics_port)
    first_cycle = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            fetcher.lines.append(line)
            if "cycle 1:" in line:
                first_cycle.set()

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not first_cycle.wait(0.1):
        if process.poll() is not None or time.monotonic() > deadline:
            fetcher.stop()
            raise RuntimeError(f"spotter fetch did not finish a cycle:\n{fetcher.output()[-3000:]}")
    return fetcher


@pytest.fixture
def fetchers() -> Iterator[Callable[..., FetcherProcess]]:
    started: list[FetcherProcess] = []

    def start(env: Mapping[str, str], regions: Iterable[str], types: Iterable[str],
              **kwargs: object) -> FetcherProcess:
        fetcher = start_fetcher(env, regions, types, **kwargs)  # type: ignore[arg-type]
        started.append(fetcher)
        return fetcher

    yield start
    for fetcher in started:
        fetcher.stop()
