"""Support for API tests: real Gunicorn on a free port, store seeding, a contract-checking client.

Fixture `api_server`: a factory `start(env, *, workers=2, threads=4) -> ApiServer`; every server
it started is stopped when the test ends.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import falcon
import falcon.testing
import pytest
import requests

from spotter.api.openapi import document
from spotter.model import DEFAULT_PRODUCT, SOURCE_AWS, Quote, Snapshot
from spotter.store import Store
from support.redisserver import free_port

# Enough of the environment to run Python; nothing else leaks in (no REDIS_URL of a developer).
_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


@dataclass
class ApiServer:
    """A running Gunicorn master with its workers; `url` has no trailing slash."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    metrics_dir: Path
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kwargs: object) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.get(self.url + path, **kwargs)  # type: ignore[arg-type]

    def worker_pids(self) -> set[int]:
        """Children of the master, read from /proc (Linux)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()}

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        self.session.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_api_server(
    workdir: Path, env: Mapping[str, str], *, workers: int = 2, threads: int = 4
) -> ApiServer:
    """Start Gunicorn through `python -m spotter.api.serve` and wait until it answers."""
    port = free_port()
    metrics_dir = workdir / f"prom-{port}"
    metrics_dir.mkdir()
    log = workdir / f"gunicorn-{port}.log"
    full_env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    full_env.update(
        API_HOST="127.0.0.1", API_PORT=str(port), GUNICORN_WORKERS=str(workers),
        SPOTTER_GUNICORN_THREADS=str(threads), PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )
    full_env.update(env)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "spotter.api.serve"], env=full_env, stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = ApiServer(process, port, log, metrics_dir)
    deadline = time.monotonic() + 30
    while True:
        try:
            # Any answer (even 503 while Redis is down) means a worker serves requests.
            server.get("/health", timeout=2)
            if len(server.worker_pids()) >= workers:
                return server
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"gunicorn did not start:\n{server.output()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[Callable[..., ApiServer]]:
    """Factory: `api_server({"REDIS_URL": url}, workers=2, threads=4)`."""
    started: list[ApiServer] = []

    def start(env: Mapping[str, str], *, workers: int = 2, threads: int = 4) -> ApiServer:
        server = start_api_server(tmp_path, env, workers=workers, threads=threads)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# -- seeding the store -----------------------------------------------------------------------

#: The fixed "now" of in-process API tests (their app's clock).
NOW = datetime(2024, 12, 24, 3, 0, tzinfo=UTC)
CHANGED = datetime(2024, 12, 24, 2, 40, tzinfo=UTC)


def zone_id(zone: str) -> str:
    """A stable fake zone id in AWS's shape: us-east-1b -> use1-az2."""
    area, direction, *_, number = zone[:-1].split("-")
    return f"{area}{direction[0]}{number}-az{ord(zone[-1]) - 96}"


def seed(
    store: Store,
    region: str,
    prices: Mapping[str, Mapping[str, str]],
    *,
    age: float = 12.0,
    product: str = DEFAULT_PRODUCT,
    also_asked: tuple[str, ...] = (),
    source: str = SOURCE_AWS,
    changed: datetime = CHANGED,
    now: datetime = NOW,
) -> None:
    """Store one successful fetch of `region`: {instance_type: {zone: price}}, fetched `age`
    seconds before `now`; `also_asked` types were asked for and had no offer."""
    fetched_at = now - timedelta(seconds=age)
    quotes = tuple(
        Quote(region, itype, product, zone, zone_id(zone), Decimal(price), changed)
        for itype, zones in prices.items()
        for zone, price in zones.items()
    )
    types = tuple(dict.fromkeys((*prices, *also_asked)))
    store.write_snapshot(Snapshot(region, product, fetched_at, source, types, quotes))
    store.record_success(region, fetched_at.timestamp(), len(quotes))
    store.mark_watched([region])


# -- checking answers against the OpenAPI document -------------------------------------------


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(template)) + "/?$")


class ContractClient:
    """falcon.testing.TestClient whose every answer must be documented in /openapi.json:
    its status listed for the route and its JSON body valid against the declared schema."""

    def __init__(self, app: falcon.App) -> None:
        from jsonschema import Draft202012Validator

        self.client = falcon.testing.TestClient(app)
        self.document = document()
        self._validator = Draft202012Validator
        self._routes = [(_template_regex(t), t) for t in self.document["paths"]]

    def get(self, path: str, **kwargs: Any) -> falcon.testing.Result:
        result = self.client.simulate_get(path, **kwargs)
        assert result.headers["content-type"].startswith(("application/json", "text/plain"))
        template = next((t for rx, t in self._routes if rx.match(path)), None)
        if template is None:
            assert result.status_code in (400, 404), (path, result.status_code)
            assert set(result.json["error"]) == {"code", "message"}
            return result
        responses = self.document["paths"][template]["get"]["responses"]
        assert str(result.status_code) in responses, (path, result.status_code, result.text)
        content = responses[str(result.status_code)]["content"]
        if "application/json" in content:
            schema = {**self.document, **content["application/json"]["schema"]}
            self._validator(schema).validate(result.json)
        return result
