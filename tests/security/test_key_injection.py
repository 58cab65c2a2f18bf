"""No Redis key is ever built from a malformed path or query value.

Every attack below must be refused (400, or 404 for a path no route has) without the API sending
Redis a single command: MONITOR, running through the whole attack, sees none from the API's
connections, and the number of keys does not change. Valid but unknown values (us-east-9) do
reach Redis, with keys built only from validated names; a check at the end shows MONITOR sees
those, so the silence above is not a blind monitor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from spotter.model import INSTANCE_TYPE_RE, REGION_RE
from support.apiserver import ApiServer, start_api_server
from support.figures import FigureLog
from support.rawhttp import raw_request, status_of
from support.redisserver import RedisServer
from support.seeded import seed_store

REGION_ATTACKS = [
    "us-east-1*", "*", "..", "%2A", "us-east-1%2A", "us-east-1%0A", "us-east-1%0D%0AFLUSHALL",
    "spotter:q:linux:*", "spotter%3Aq%3Alinux%3A%2A", "us-east-1%00", "us-east-1%20", "[a-z]*",
    "%3F", "us-east-1%5C", "US-EAST-1", "us-east-1;KEYS%20*", "%2e%2e", "us-east-1%7C",
    "us-east-1%27%22", "%E2%80%A8",
]
TYPE_ATTACKS = [
    "t3.micro*", "*", "t3.micro%0AKEYS", "t3.micro:x", "..", "spotter:q:linux:t3.micro",
    "t3.micro%00", "t3.micro%20", "t3.*", "T3.MICRO", "t3..micro", "t3.micro%7Cus-east-1",
]
QUERY_ATTACKS = [
    "/spot-prices/us-east-1/t3.micro?product=linux*",
    "/spot-prices/us-east-1/t3.micro?product=linux%0AFLUSHALL",
    "/best-price/t3.micro?regions=us-east-1,*",
    "/best-price/t3.micro?regions=us-east-1%0AKEYS",
    "/best-price/t3.micro?max_age=*",
    "/spot-prices/us-east-1/t3.micro/history?zone=*",
    "/spot-prices/us-east-1/t3.micro/history?zone=us-east-1a%0AKEYS",
    "/spot-prices/us-east-1/t3.micro/history?since=*",
]


def attack_paths() -> list[str]:
    paths = [f"/spot-prices/{r}/t3.micro" for r in REGION_ATTACKS]
    paths += [f"/spot-prices/{r}/t3.micro/history" for r in REGION_ATTACKS]
    paths += [f"/spot-prices/us-east-1/{t}" for t in TYPE_ATTACKS]
    paths += [f"/best-price/{t}" for t in TYPE_ATTACKS]
    return paths + QUERY_ATTACKS


class Monitor:
    """Redis MONITOR on a thread, until a marker command is seen."""

    MARKER = "spotter-test-monitor-end"

    def __init__(self, url: str) -> None:
        self.url = url
        self.commands: list[dict] = []
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Monitor:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        redis.Redis.from_url(self.url).echo(self.MARKER)
        self.thread.join(10)

    def _run(self) -> None:
        client = redis.Redis.from_url(self.url)
        with client.monitor() as monitor:
            self.ready.set()
            for command in monitor.listen():
                if self.MARKER in command["command"]:
                    return
                self.commands.append(command)


@pytest.fixture
def live_api(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[ApiServer]:
    redis_server.ensure_running()
    seed_store(redis_server.url)
    server = start_api_server(tmp_path_factory.mktemp("inject"), {"REDIS_URL": redis_server.url})
    yield server
    server.stop()


def test_no_key_is_built_from_a_malformed_value(
    live_api: ApiServer, redis_server: RedisServer, figures: FigureLog
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    keys_before = set(client.keys("*"))
    # Let every worker open its pool before MONITOR starts: a first request each.
    for _ in range(8):
        live_api.get("/health", headers={"Connection": "close"})
    refused = 0
    with Monitor(redis_server.url) as monitor:
        for path in attack_paths():
            raw = raw_request(
                live_api, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            )
            status = status_of(raw)
            assert status in (400, 404), (path, raw[:300])
            assert b'"error"' in raw, (path, raw[:300])
            refused += 1
    # Connection handshakes (HELLO) and the monitor's own end marker (ECHO) name no key.
    sent = [c["command"] for c in monitor.commands
            if c["command"].split()[0].upper() not in ("HELLO", "ECHO")]
    assert sent == [], sent[:10]
    assert set(client.keys("*")) == keys_before

    # Not a blind monitor: a valid but unknown region does reach Redis, with validated keys.
    with Monitor(redis_server.url) as monitor:
        assert live_api.get("/spot-prices/us-east-9/t3.micro").status_code == 404
    seen = " ".join(c["command"] for c in monitor.commands)
    assert "spotter:region:us-east-9" in seen
    for command in monitor.commands:
        if command["command"].upper().startswith("CLIENT "):  # tracking prefixes, not keys
            continue
        for word in command["command"].split():
            if word.startswith("spotter:"):
                tail = word.split(":")[-1]
                assert REGION_RE.fullmatch(tail) or INSTANCE_TYPE_RE.fullmatch(tail) or tail in (
                    "watched", "catalog"), word
    assert set(client.keys("*")) == keys_before
    client.close()
    figures.record(
        "Security: key injection through path and query values (`*`, `..`, `%2A`, CR/LF, "
        "NUL, `spotter:q:linux:*`, ...)",
        tried=f"{refused} malformed requests under MONITOR",
        served=f"{refused}x400/404 JSON; 0 Redis commands sent; key count unchanged",
        lost="nothing", recovery="n/a", group="security",
    )
