"""Redis restarts while a load generator hits the API under real Gunicorn and a fetcher runs.

Redis here keeps nothing on disk, so a restart is the worst case: every key is gone. Every answer
must be a correct one or an honest 503 with Retry-After (never a 500, never a wrong price); the
fetcher must carry on by itself and rewrite everything, and the API serve it again.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from spotter.config import Settings
from spotter.fetcher.loop import Fetcher
from spotter.store import Store
from support.apiserver import ApiServer
from support.expected import Expectations
from support.figures import FigureLog, seconds
from support.loadgen import LoadGenerator
from support.redisserver import RedisServer

REGIONS = ("us-east-1", "eu-west-1", "us-west-2")
TYPES = ("r5.large", "m5.xlarge", "c5.xlarge")
FETCH_INTERVAL = 2.0
# Watched but not enabled for the account (the replay catalog says not-opted-in): a 403.
NOT_ENABLED = "ap-east-1"
# A region that exists (in the catalog) but nobody watches: a 404 region_not_watched.
UNWATCHED = "eu-west-3"
# What these two must answer; a 503 not_yet_fetched is honest while nothing is known.
EXPECTED_ERRORS = {
    f"/spot-prices/{NOT_ENABLED}/r5.large": (403, "region_not_enabled"),
    f"/spot-prices/{UNWATCHED}/r5.large": (404, "region_not_watched"),
}


class Checks(Expectations):
    """The prices of the watched regions, plus the two error answers above."""

    def paths(self) -> list[str]:
        return [*super().paths(), *EXPECTED_ERRORS]

    def check(self, path: str, answer: requests.Response) -> None:
        if path not in EXPECTED_ERRORS or answer.status_code == 503:
            super().check(path, answer)
            return
        code = answer.json()["error"]["code"]
        assert (answer.status_code, code) == EXPECTED_ERRORS[path]


class RunningFetcher:
    """A Fetcher looping on its own thread (as `spotter fetch` does), stopped at the end."""

    def __init__(self, replay_url: str, redis_url: str) -> None:
        settings = Settings.from_env({
            "REDIS_URL": redis_url, "SPOTTER_AWS_ENDPOINT_URL": replay_url,
            "SPOTTER_SOURCE": "replay", "SPOTTER_REDIS_TIMEOUT": "0.5",
        })
        self.store = Store.from_settings(settings)
        self.fetcher = Fetcher(
            settings, self.store, regions=(*REGIONS, NOT_ENABLED), instance_types=TYPES,
            products=("Linux/UNIX",), interval=FETCH_INTERVAL, lock_wait=1.0,
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.fetcher.run_forever, args=(self.stop,))
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(60)
        self.store.close()


@pytest.fixture
def fetcher(replay_server: Any, redis_url: str) -> Iterator[RunningFetcher]:
    running = RunningFetcher(replay_server.url, redis_url)
    yield running
    running.close()


def wait_until(predicate: Callable[[], bool], limit: float = 60.0) -> float:
    """Seconds until `predicate()` holds; fails past `limit` (a generous bound, not a goal)."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < limit, f"not within {limit:.0f}s"
        time.sleep(0.05)
    return time.monotonic() - started


def all_correct(server: ApiServer, expected: Expectations) -> bool:
    """Every price served again, and the two error answers back to their own codes."""
    session = requests.Session()
    try:
        for region in REGIONS:
            for itype in TYPES:
                answer = session.get(f"{server.url}/spot-prices/{region}/{itype}", timeout=5)
                if answer.status_code != 200:
                    return False
                expected.check(f"/spot-prices/{region}/{itype}", answer)
        for path, (status, _) in EXPECTED_ERRORS.items():
            answer = session.get(server.url + path, timeout=5)
            if answer.status_code != status:
                return False
            expected.check(path, answer)
        return session.get(f"{server.url}/regions", timeout=5).status_code == 200
    except requests.RequestException:
        return False
    finally:
        session.close()


def restart_under_load(
    redis_server: RedisServer, server: ApiServer, fetcher: RunningFetcher, restarts: int,
    down: float,
) -> dict[str, Any]:
    expected = Checks(REGIONS, TYPES)
    wait_until(lambda: all_correct(server, expected))
    recoveries: list[float] = []
    during: Counter[int] = Counter()
    with LoadGenerator(server.url, expected.paths(), expected.check, threads=6) as load:
        time.sleep(1.0)
        for _ in range(restarts):
            before = load.snapshot()
            redis_server.stop()
            time.sleep(down)
            redis_server.start()
            recoveries.append(wait_until(lambda: all_correct(server, expected)))
            during += load.snapshot() - before
            time.sleep(1.0)
    result = load.result
    assert result.wrong_total == 0, result.wrong[:5]
    # 403/404 only from the two error paths, with their own codes (the checker says so).
    assert set(result.statuses) <= {200, 403, 404, 503}, result.summary()
    assert result.statuses[200] > 0 and during[503] > 0, result.summary()
    # The load generator's own connections only fail while Gunicorn restarts nothing: none.
    assert not result.errors, result.summary()
    status = fetcher.store.region_statuses([*REGIONS, NOT_ENABLED])
    assert all(status[r].state == "ok" for r in REGIONS), status
    assert status[NOT_ENABLED].state == "not_enabled"
    assert "Traceback" not in server.output()
    return {"result": result, "recoveries": recoveries}


def test_redis_restart_under_load_never_answers_wrong(
    redis_server: RedisServer, redis_url: str, api_server: Callable[..., ApiServer],
    fetcher: RunningFetcher, figures: FigureLog,
) -> None:
    server = api_server({"REDIS_URL": redis_url, "SPOTTER_REDIS_TIMEOUT": "0.5"})
    run = restart_under_load(redis_server, server, fetcher, restarts=1, down=2.0)
    record(figures, "Redis restart (data lost) under API load, quick", run, 1)


@pytest.mark.slow
def test_redis_restarts_under_load_many_times(
    redis_server: RedisServer, redis_url: str, api_server: Callable[..., ApiServer],
    fetcher: RunningFetcher, figures: FigureLog,
) -> None:
    server = api_server(
        {"REDIS_URL": redis_url, "SPOTTER_REDIS_TIMEOUT": "0.5"}, workers=3, threads=4
    )
    run = restart_under_load(redis_server, server, fetcher, restarts=8, down=3.0)
    record(figures, "Redis restarts (data lost) under API load", run, 8)


def record(figures: FigureLog, name: str, run: dict[str, Any], restarts: int) -> None:
    result, recoveries = run["result"], run["recoveries"]
    figures.record(
        name,
        tried=f"{restarts} restart(s); {result.requests} requests at {result.rate:.0f}/s",
        served=f"{result.statuses[200]}x200 correct prices, {result.statuses[503]}x503 with "
        f"Retry-After, {result.statuses[403] + result.statuses[404]}x403/404 with the right "
        f"code, 0x500, {result.wrong_total} wrong",
        lost="nothing (fetcher rewrote every key)",
        recovery=f"max {seconds(max(recoveries))} after Redis was back (fetch interval "
        f"{FETCH_INTERVAL:g} s)",
        group="redis",
    )
