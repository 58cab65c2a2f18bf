"""Log lines of the real processes: Gunicorn master and workers in one format naming role and
worker, request ids in the API's lines, and no Redis password anywhere, errors included."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from support.apiserver import ApiServer
from support.fetchers import FetcherProcess
from support.redisserver import RedisServer, find_redis_server, free_port

ServerFactory = Callable[..., ApiServer]


def json_lines(text: str) -> list[dict]:
    """Every line, parsed: a line that is not JSON fails the test."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_api_lines_are_json_with_role_worker_and_the_request_id(
    api_server: ServerFactory,
) -> None:
    # Nothing listens on this port: every price request is a 503 the API logs a warning for.
    server = api_server({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                         "SPOTTER_LOG_FORMAT": "json", "SPOTTER_ACCESS_LOG": "1"},
                        workers=2, threads=2)
    given = server.get("/spot-prices/us-east-1/t3.micro", headers={"X-Request-ID": "req-7f3a"})
    assert (given.status_code, given.headers["X-Request-ID"]) == (503, "req-7f3a")
    made = server.get("/best-price/t3.micro")
    generated = made.headers["X-Request-ID"]
    assert made.status_code == 503 and len(generated) == 32
    server.stop()
    lines = json_lines(server.output())
    assert {line["role"] for line in lines} == {"api"}
    pids = {line["pid"] for line in lines}
    assert len(pids) >= 3  # the master and both workers
    for rid in ("req-7f3a", generated):
        warning = [line for line in lines
                   if line.get("request_id") == rid and line["level"] == "WARNING"]
        assert warning and "redis unavailable" in warning[0]["msg"], lines
        access = [line for line in lines if line["logger"] == "gunicorn.access"
                  and f"request_id={rid}" in line["msg"]]
        assert len(access) == 1 and access[0]["pid"] == warning[0]["pid"]


def test_no_log_line_of_api_or_fetcher_holds_the_redis_password(
    tmp_path: Path, api_server: ServerFactory, replay_server,
    fetchers: Callable[..., FetcherProcess],
) -> None:
    password = "Tr0ub4dor:&/3-" + tmp_path.name[-6:]
    redis_server = RedisServer(find_redis_server(), free_port(), tmp_path / "redis-pw",
                               password=password)
    redis_server.workdir.mkdir()
    redis_server.start()
    try:
        url = f"redis://:{quote(password, safe='')}@127.0.0.1:{redis_server.port}/0"
        server = api_server(
            {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
             "REDIS_PASSWORD": password, "LOG_LEVEL": "DEBUG", "SPOTTER_LOG_FORMAT": "json",
             "SPOTTER_ACCESS_LOG": "1"}, workers=2, threads=2)
        fetcher = fetchers(
            {"REDIS_URL": url, "SPOTTER_AWS_ENDPOINT_URL": replay_server.url,
             "LOG_LEVEL": "DEBUG"},
            ["us-east-1"], ["m5.large"], interval="1s")
        for path in ("/spot-prices/us-east-1/m5.large", "/health", "/readyz", "/metrics"):
            assert server.get(path).status_code == 200, path
        # Errors are where secrets leak: Redis goes away under both processes.
        redis_server.stop()
        for path in ("/spot-prices/us-east-1/m5.large", "/readyz", "/metrics", "/regions"):
            server.get(path)
        deadline = time.monotonic() + 30
        while "redis unavailable" not in fetcher.output():
            assert time.monotonic() < deadline, fetcher.output()[-2000:]
            time.sleep(0.2)
        redis_server.start()
        assert server.get("/readyz").status_code == 200
    finally:
        redis_server.stop()
    fetcher.stop()
    server.stop()
    api_log, fetch_log = server.output(), fetcher.output()
    # The logs did cover the risky paths: settings, connection errors, the fetcher's target.
    assert "Current configuration" in api_log and "redis unavailable" in api_log
    assert "fetching us-east-1" in fetch_log and "redis unavailable" in fetch_log
    for text in (api_log, fetch_log):
        for form in (password, quote(password, safe=""), quote(password)):
            assert form not in text
    print(f"\nchecked {len(api_log.splitlines())} API and {len(fetch_log.splitlines())} "
          "fetcher log lines for the password")
