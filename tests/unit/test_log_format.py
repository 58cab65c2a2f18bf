"""Log lines: role, pid, shard and request id in both formats; secrets never written."""

from __future__ import annotations

import io
import json
import logging

import pytest

from spotter.config import Settings
from spotter.logs import make_handler, request_id, secrets_of


def line_of(settings: Settings, message: str, *, shard: str | None = None,
            exc: bool = False) -> str:
    stream = io.StringIO()
    handler = make_handler(settings, "fetcher" if shard else "api", shard=shard, stream=stream)
    logger = logging.getLogger("spotter.test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        if exc:
            try:
                raise RuntimeError(message)
            except RuntimeError:
                logger.exception("failed")
        else:
            logger.warning(message)
    finally:
        logger.handlers[:] = []
    return stream.getvalue()


def test_json_lines_name_role_pid_shard_and_request_id() -> None:
    settings = Settings(log_format="json")
    token = request_id.set("req-42")
    try:
        doc = json.loads(line_of(settings, "hello", shard="us-east-1,eu-west-1"))
    finally:
        request_id.reset(token)
    assert doc["role"] == "fetcher" and doc["shard"] == "us-east-1,eu-west-1"
    assert doc["request_id"] == "req-42" and doc["msg"] == "hello"
    assert isinstance(doc["pid"], int) and doc["level"] == "WARNING"
    assert "request_id" not in json.loads(line_of(settings, "later"))  # reset after the request


def test_plain_lines_name_role_pid_and_request_id() -> None:
    token = request_id.set("abc")
    try:
        line = line_of(Settings(log_format="plain"), "redis unavailable")
    finally:
        request_id.reset(token)
    assert " WARNING api[" in line and line.rstrip().endswith("redis unavailable request_id=abc")


@pytest.mark.parametrize("fmt", ["plain", "json"])
@pytest.mark.parametrize("password", ["s3cret-pass", "p@ss:w/rd[1]?#x", 'q"uo\\te'])
def test_the_redis_password_is_masked_even_in_tracebacks(fmt: str, password: str) -> None:
    from urllib.parse import quote

    settings = Settings.from_env({"REDIS_HOST": "redis", "REDIS_PASSWORD": password,
                                  "SPOTTER_LOG_FORMAT": fmt})
    assert password in secrets_of(settings, {})
    text = line_of(settings, f"url {settings.redis_url} raw {password}", exc=True)
    assert password not in text and quote(password, safe="") not in text
    if fmt == "json":  # what a log collector reads: the decoded values
        assert not any(password in str(v) for v in json.loads(text).values())
    assert "***" in text


def test_short_values_are_not_treated_as_secrets() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://:ab@localhost:6379/0"})
    assert secrets_of(settings, {"AWS_SECRET_ACCESS_KEY": "x"}) == ()
