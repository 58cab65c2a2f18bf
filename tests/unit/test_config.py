"""Settings from the environment: the original variables, new ones, and bad values named."""

from __future__ import annotations

import pytest

from spotter.config import ConfigError, Settings, parse_duration, redact_url
from spotter.model import DEFAULT_INSTANCE_TYPES
from spotter.replay.catalog import load_catalog


def test_defaults_match_the_original_service() -> None:
    settings = Settings.from_env({})
    assert settings.update_interval == 300 and settings.cache_expiry == 600
    assert settings.api_port == 5001 and settings.instance_types == DEFAULT_INSTANCE_TYPES
    assert len(DEFAULT_INSTANCE_TYPES) == 22
    assert settings.redis_url == "redis://localhost:6379/0"


def test_original_redis_variables_build_the_url_with_an_escaped_password() -> None:
    settings = Settings.from_env({"REDIS_HOST": "cache", "REDIS_PORT": "6380",
                                  "REDIS_PASSWORD": "p@ss/word"})
    assert settings.redis_url == "redis://:p%40ss%2Fword@cache:6380/0"
    assert "p%40ss" not in settings.redacted_redis_url and "***" in settings.redacted_redis_url


def test_every_commercial_region_is_fetched_at_once_by_default() -> None:
    # Regions fetched in waves multiply a cycle's length by the number of waves.
    assert Settings.from_env({}).fetch_concurrency >= len(load_catalog().regions)


def test_read_cache_is_on_unless_turned_off() -> None:
    assert Settings.from_env({}).read_cache is True
    assert Settings.from_env({"SPOTTER_READ_CACHE": "OFF"}).read_cache is False


def test_redis_url_wins_over_host_and_port() -> None:
    env = {"REDIS_URL": "redis://h:1/2", "REDIS_HOST": "ignored"}
    assert Settings.from_env(env).redis_url == "redis://h:1/2"


@pytest.mark.parametrize(("name", "value"), [
    ("UPDATE_INTERVAL", "soon"), ("UPDATE_INTERVAL", "0"), ("CACHE_EXPIRY", "-5"),
    ("API_PORT", "70000"), ("API_PORT", "http"), ("GUNICORN_WORKERS", "0"),
    ("INSTANCE_TYPES", "t3.micro,t3..micro"), ("INSTANCE_TYPES", "T3.MICRO"),
    ("LOG_LEVEL", "LOUD"), ("SPOTTER_REGIONS", "us-east-1,mars-1"),
    ("SPOTTER_PRODUCTS", "Linux"), ("REDIS_PORT", "six"), ("REDIS_URL", "http://x"),
    ("SPOTTER_SOURCE", "guess"), ("SPOTTER_AWS_ENDPOINT_URL", "ftp://x"),
    ("SPOTTER_READ_CACHE", "maybe"),
])
def test_bad_values_stop_with_a_message_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({name: value})
    assert str(err.value).startswith(name)


def test_lists_and_durations_parse() -> None:
    settings = Settings.from_env({"INSTANCE_TYPES": "t3.micro, m5.large t3.micro",
                                  "SPOTTER_REGIONS": "us-east-1,eu-west-1",
                                  "UPDATE_INTERVAL": "5m", "SPOTTER_PRODUCTS": "all"})
    assert settings.instance_types == ("t3.micro", "m5.large")
    assert settings.regions == ("us-east-1", "eu-west-1")
    assert settings.update_interval == 300 and len(settings.products) == 4
    assert Settings.from_env({"SPOTTER_REGIONS": "all"}).regions == ()
    assert parse_duration("250ms") == 0.25 and parse_duration("7d") == 7 * 86400


def test_redaction_hides_only_the_password() -> None:
    assert redact_url("redis://user:secret@host:6379/0") == "redis://user:***@host:6379/0"
    assert redact_url("redis://host:6379/0") == "redis://host:6379/0"
