"""The operator's environment contract: defaults, pass-through, and bad values named."""

from __future__ import annotations

import pytest

from spotter.config import ConfigError
from spotter.operator.config import (
    DEFAULT_POD_SECURITY_CONTEXT,
    DEFAULT_RESOURCES,
    DEFAULT_SECURITY_CONTEXT,
    PASSTHROUGH_ENV,
    OperatorConfig,
)

IMAGE = {"SPOTTER_FETCHER_IMAGE": "ghcr.io/spotter-dev/spotter:1"}


def test_defaults() -> None:
    config = OperatorConfig.from_env(IMAGE)
    assert config.fetcher_image == "ghcr.io/spotter-dev/spotter:1"
    assert config.pull_policy == "IfNotPresent"
    assert config.service_account == "default"
    assert config.resources == DEFAULT_RESOURCES
    assert config.pod_security_context == DEFAULT_POD_SECURITY_CONTEXT
    assert config.security_context == DEFAULT_SECURITY_CONTEXT
    assert config.redis_secret_name is None and config.aws_secret_name is None
    assert config.passthrough == ()
    assert config.resync_interval == 30
    assert config.discovery_region == "us-east-1"


def test_missing_image_is_named() -> None:
    with pytest.raises(ConfigError, match="SPOTTER_FETCHER_IMAGE: required"):
        OperatorConfig.from_env({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SPOTTER_FETCHER_IMAGE_PULL_POLICY", "Sometimes"),
        ("SPOTTER_FETCHER_SERVICE_ACCOUNT", "Not_A_Name"),
        ("SPOTTER_FETCHER_RESOURCES", "{not json"),
        ("SPOTTER_FETCHER_RESOURCES", "[1, 2]"),
        ("SPOTTER_FETCHER_RESOURCES", '{"requets": {}}'),
        ("SPOTTER_FETCHER_POD_SECURITY_CONTEXT", '"root"'),
        ("SPOTTER_FETCHER_SECURITY_CONTEXT", "{"),
        ("SPOTTER_REDIS_SECRET_NAME", "UPPER"),
        ("SPOTTER_REDIS_SECRET_KEY", "bad key"),
        ("SPOTTER_AWS_SECRET_NAME", "-x-"),
        ("SPOTTER_OPERATOR_RESYNC_INTERVAL", "0s"),
        ("SPOTTER_OPERATOR_RESYNC_INTERVAL", "soon"),
        ("SPOTTER_FETCHER_METRICS_PORT", "99999"),
        ("SPOTTER_SOURCE", "guess"),
        ("REDIS_PORT", "port"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        OperatorConfig.from_env({**IMAGE, name: value})


def test_passthrough_keeps_the_contract_order_and_skips_empty_values() -> None:
    env = {**IMAGE, **{name: f"v-{i}" for i, name in enumerate(PASSTHROUGH_ENV)}}
    env.update({"REDIS_URL": "redis://cache:6379/0", "REDIS_PORT": "6379",
                "SPOTTER_AWS_ENDPOINT_URL": "http://replay:8080", "SPOTTER_SOURCE": "replay",
                "LOG_LEVEL": "DEBUG", "SPOTTER_LOG_FORMAT": "json",
                "SPOTTER_FETCHER_METRICS_PORT": "9102", "REDIS_DB": "0",
                "SPOTTER_REDIS_PREFIX": "sp", "AWS_DEFAULT_REGION": ""})
    config = OperatorConfig.from_env(env)
    names = [name for name, _ in config.passthrough]
    assert names == [n for n in PASSTHROUGH_ENV if n != "AWS_DEFAULT_REGION"]
    assert dict(config.passthrough)["SPOTTER_SOURCE"] == "replay"
    assert config.discovery_region == "v-7"  # AWS_REGION


def test_json_settings_are_parsed_and_an_empty_object_means_none() -> None:
    config = OperatorConfig.from_env({
        **IMAGE,
        "SPOTTER_FETCHER_RESOURCES": '{"limits": {"memory": "1Gi"}}',
        "SPOTTER_FETCHER_POD_SECURITY_CONTEXT": "{}",
    })
    assert config.resources == {"limits": {"memory": "1Gi"}}
    assert config.pod_security_context == {}


def test_a_password_in_redis_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL: carries a password"):
        OperatorConfig.from_env({**IMAGE, "REDIS_URL": "redis://:hunter2@cache:6379/0"})


def test_redis_secret_with_redis_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL: the password from SPOTTER_REDIS_SECRET"):
        OperatorConfig.from_env({**IMAGE, "REDIS_URL": "redis://cache:6379/0",
                                 "SPOTTER_REDIS_SECRET_NAME": "redis"})


def test_operator_reads_redis_with_the_same_variables() -> None:
    config = OperatorConfig.from_env({**IMAGE, "REDIS_HOST": "cache", "REDIS_PORT": "6380",
                                      "REDIS_PASSWORD": "pw"})
    assert config.settings.redis_url == "redis://:pw@cache:6380/0"
    assert ("REDIS_PASSWORD", "pw") not in config.passthrough
