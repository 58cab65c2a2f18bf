"""The Redis password never appears in an answer (body or header) or a log line: not while Redis
is up, down, or refusing the password, not from the API workers, Gunicorn or a fetcher."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from support.apiserver import ApiServer
from support.figures import FigureLog
from support.redisserver import RedisServer, find_redis_server, free_port
from support.seeded import seed_store

PASSWORD = "Sup3r-Secret_pw.42"
WRONG = "Wr0ng-Secret_pw.17"
# Fragments long enough to be the password and nothing else.
FRAGMENTS = ("Sup3r-Secret", "Secret_pw", "Wr0ng-Secret")
PATHS = (
    "/spot-prices/us-east-1/t3.micro", "/spot-prices/us-east-9/t3.micro",
    "/spot-prices/bad!/t3.micro", "/best-price/t3.micro", "/regions", "/health", "/metrics",
    "/readyz", "/nowhere",
)


@pytest.fixture
def secured_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(find_redis_server(), free_port(), tmp_path, password=PASSWORD)
    server.start()
    yield server
    server.stop()


def leaks(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


def sweep(server: ApiServer, statuses: Counter[int]) -> None:
    for path in PATHS:
        for method in ("GET", "POST"):
            answer = requests.request(method, server.url + path, timeout=10)
            statuses[answer.status_code] += 1
            shown = answer.text + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
            assert not leaks(shown), (method, path, answer.status_code, shown[:500])


def test_the_redis_password_is_never_answered_or_logged(
    secured_redis: RedisServer, api_server: Callable[..., ApiServer], tmp_path: Path,
    figures: FigureLog,
) -> None:
    seed_store(secured_redis.url)
    env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(secured_redis.port),
           "REDIS_PASSWORD": PASSWORD, "LOG_LEVEL": "DEBUG", "SPOTTER_REDIS_TIMEOUT": "0.5"}
    right = api_server(env)
    wrong = api_server({**env, "REDIS_PASSWORD": WRONG})
    url_form = api_server({"REDIS_URL": secured_redis.url, "LOG_LEVEL": "DEBUG",
                           "SPOTTER_REDIS_TIMEOUT": "0.5"})
    statuses: Counter[int] = Counter()
    for server in (right, wrong, url_form):
        sweep(server, statuses)
    assert right.get("/spot-prices/us-east-1/t3.micro").status_code == 200
    assert wrong.get("/spot-prices/us-east-1/t3.micro").status_code == 503
    secured_redis.stop()
    for server in (right, url_form):
        sweep(server, statuses)
    fetch_log = run_fetcher_against_a_dead_redis(secured_redis, tmp_path)
    secured_redis.start()
    for server in (right, url_form):
        sweep(server, statuses)
    logs = {"gunicorn": "".join(s.output() for s in (right, wrong, url_form)),
            "fetcher": fetch_log}
    for name, text in logs.items():
        assert not leaks(text), (name, [line for line in text.splitlines() if leaks(line)][:5])
    assert statuses[503] > 0 and statuses[200] > 0
    figures.record(
        "Security: Redis password in answers and logs (Redis up, down, wrong password)",
        tried=f"{sum(statuses.values())} requests over 3 API servers, a fetcher run",
        served=", ".join(f"{n}x{s}" for s, n in sorted(statuses.items()))
        + f"; {sum(len(t) for t in logs.values())} bytes of logs",
        lost="nothing; 0 occurrences of the password", recovery="n/a", group="security",
    )


def run_fetcher_against_a_dead_redis(redis_server: RedisServer, tmp_path: Path) -> str:
    """`spotter fetch --once` with the password in REDIS_URL (one holding a '/', which a
    naive redaction would miss) while Redis is down: its whole output."""
    out = []
    for password in (PASSWORD, "Sup3r-Secret/pw?x"):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LOG_LEVEL": "DEBUG",
            "REDIS_URL": f"redis://:{password}@127.0.0.1:{redis_server.port}/0",
            "SPOTTER_AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "SPOTTER_REDIS_TIMEOUT": "0.5",
            "AWS_MAX_ATTEMPTS": "1", "SPOTTER_AWS_CONNECT_TIMEOUT": "0.5",
        }
        run = subprocess.run(
            [sys.executable, "-m", "spotter.cli", "fetch", "--once", "--regions", "us-east-1",
             "--instance-types", "t3.micro"],
            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )
        out.append(run.stdout + run.stderr)
        assert "fetching" in out[-1] or "configuration error" in out[-1], out[-1][-2000:]
    return "\n".join(out)
