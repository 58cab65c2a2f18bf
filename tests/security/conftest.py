"""Security tests: the API's surface (methods, paths, headers), Redis keys built from input,
secrets in logs and error bodies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.apiserver import ApiServer, start_api_server
from support.figures import figures  # noqa: F401  (fixture)
from support.redisserver import RedisServer
from support.seeded import seed_store


@pytest.fixture(scope="module")
def live_api(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """Real Gunicorn over a seeded store (two watched regions, a catalog); no traceback logged."""
    redis_server.ensure_running()
    seed_store(redis_server.url)
    server = start_api_server(tmp_path_factory.mktemp("api"), {"REDIS_URL": redis_server.url})
    yield server
    server.stop()
    assert "Traceback" not in server.output(), server.output()[-3000:]
