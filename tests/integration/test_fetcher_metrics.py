"""Fetcher metrics: every AWS attempt against the replay endpoint counted by region, operation and
outcome; pages, throttles, errors by code, durations and last success; served on their own port."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from spotter.config import Settings
from spotter.fetcher.loop import Fetcher
from spotter.fetcher.metrics import FetcherMetrics
from spotter.fetcher.outcome import FAILED, OK
from spotter.store import Store
from support.redisserver import free_port

SPH = "DescribeSpotPriceHistory"
TYPES = ("m5.large", "c5.large")


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 signs every request; the replay endpoint reads the region from the signature.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def make_fetcher(server, redis_url: str, regions, types=TYPES, **env: str) -> Fetcher:
    settings = Settings.from_env({
        "REDIS_URL": redis_url, "SPOTTER_AWS_ENDPOINT_URL": server.url,
        "SPOTTER_SOURCE": "replay", "AWS_MAX_ATTEMPTS": "3", "UPDATE_INTERVAL": "60", **env,
    })
    return Fetcher(
        settings, Store.from_settings(settings), regions=regions, instance_types=types,
        products=("Linux/UNIX",), metrics=FetcherMetrics(), backoff_base=0.01,
    )


def value(fetcher: Fetcher, name: str, **labels: str) -> float:
    assert fetcher.metrics is not None
    return fetcher.metrics.registry.get_sample_value(name, labels) or 0.0


def test_every_page_and_call_is_counted_by_region_operation_and_outcome(
    replay_server_factory, redis_url
) -> None:
    server = replay_server_factory(page_size=2)
    fetcher = make_fetcher(server, redis_url, ("us-east-1", "eu-west-1"))
    report = fetcher.run_cycle()
    assert {o.state for o in report.outcomes} == {OK}
    seen = Counter((c.region, c.action) for c in server.calls.all() if c.outcome == "ok")
    assert seen[("us-east-1", SPH)] > 1  # several pages
    for (region, action), calls in seen.items():
        assert value(fetcher, "spotter_aws_requests_total", region=region, operation=action,
                     outcome="ok") == calls
    for region in ("us-east-1", "eu-west-1"):
        assert value(fetcher, "spotter_aws_pages_total", region=region) == seen[(region, SPH)]
        assert value(fetcher, "spotter_aws_pages_total", region=region) == \
            report.by_region[region].pages
        assert value(fetcher, "spotter_fetch_outcomes_total", region=region, outcome="ok") == 1
        assert value(fetcher, "spotter_fetch_duration_seconds_count", region=region) == 1
    assert value(fetcher, "spotter_fetch_cycle_duration_seconds_count") == 1


def primed(fetcher: Fetcher, server, **faults: object) -> None:
    """One clean cycle (discovery and zone maps done), then every type due again and `faults`
    armed: the next cycle's DescribeSpotPriceHistory calls meet them."""
    assert {o.state for o in fetcher.run_cycle().outcomes} == {OK}
    for region in fetcher.explicit_regions:
        fetcher.store.client.delete(fetcher.store.keys.freshness("Linux/UNIX", region))
    server.faults.configure(**faults)


def test_throttled_attempts_are_each_counted_and_the_failed_fetch_once_by_code(
    replay_server, redis_url
) -> None:
    fetcher = make_fetcher(replay_server, redis_url, ("us-east-1", "eu-west-1"))
    # 3 attempts per call (botocore retries) x 2 tries of the fetcher: 6 throttles, then fail.
    primed(fetcher, replay_server, throttle_next=6, throttle_regions={"eu-west-1"})
    outcomes = fetcher.run_cycle().by_region
    assert outcomes["eu-west-1"].state == FAILED and outcomes["us-east-1"].state == OK
    throttled = replay_server.calls.count(SPH, region="eu-west-1", outcome="RequestLimitExceeded")
    assert throttled == 6
    assert value(fetcher, "spotter_aws_throttles_total", region="eu-west-1", operation=SPH) == 6
    assert value(fetcher, "spotter_aws_requests_total", region="eu-west-1", operation=SPH,
                 outcome="throttled") == 6
    assert value(fetcher, "spotter_fetch_errors_total", region="eu-west-1", kind="throttled",
                 code="RequestLimitExceeded") == 1
    assert value(fetcher, "spotter_fetch_outcomes_total", region="eu-west-1",
                 outcome="failed") == 1
    assert value(fetcher, "spotter_aws_throttles_total", region="us-east-1", operation=SPH) == 0
    assert value(fetcher, "spotter_fetch_errors_total", region="us-east-1", kind="throttled",
                 code="RequestLimitExceeded") == 0


def test_refused_and_broken_calls_are_errors_by_code(replay_server, redis_url) -> None:
    fetcher = make_fetcher(replay_server, redis_url, ("us-west-2", "eu-west-1"))
    primed(
        fetcher, replay_server, unauthorized_regions={"us-west-2"}, unauthorized_actions={SPH},
        server_errors_next=3, server_errors_regions={"eu-west-1"},
    )
    outcomes = fetcher.run_cycle().by_region
    assert outcomes["us-west-2"].state == FAILED and outcomes["eu-west-1"].state == FAILED
    assert value(fetcher, "spotter_fetch_errors_total", region="us-west-2", kind="unauthorized",
                 code="UnauthorizedOperation") == 1
    refused = replay_server.calls.count(SPH, region="us-west-2", outcome="UnauthorizedOperation")
    assert refused == 1  # not retried
    assert value(fetcher, "spotter_aws_requests_total", region="us-west-2", operation=SPH,
                 outcome="client_error") == refused
    assert value(fetcher, "spotter_fetch_errors_total", region="eu-west-1", kind="other",
                 code="InternalError") == 1
    assert value(fetcher, "spotter_aws_requests_total", region="eu-west-1", operation=SPH,
                 outcome="server_error") == replay_server.calls.count(
                     SPH, region="eu-west-1", outcome="InternalError") == 3


def test_last_success_is_the_time_of_the_stored_fetch(replay_server, redis_url) -> None:
    fetcher = make_fetcher(replay_server, redis_url, ("us-east-1",))
    assert value(fetcher, "spotter_region_last_success_timestamp_seconds",
                 region="us-east-1") == 0
    fetcher.run_cycle()
    status = fetcher.store.region_statuses(["us-east-1"])["us-east-1"]
    assert status.last_success is not None
    assert value(fetcher, "spotter_region_last_success_timestamp_seconds",
                 region="us-east-1") == status.last_success


def test_fetch_command_serves_its_metrics_on_its_own_port(replay_server, redis_url) -> None:
    port = free_port()
    env = {
        "REDIS_URL": redis_url, "SPOTTER_AWS_ENDPOINT_URL": replay_server.url,
        "SPOTTER_SOURCE": "replay", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "PATH": "/usr/bin:/bin",
        "SPOTTER_FETCHER_METRICS_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "spotter.cli", "fetch", "--regions", "us-east-1",
         "--instance-types", "m5.large", "--interval", "1h"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        line, deadline = "", time.monotonic() + 90
        while "cycle 1:" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        assert "cycle 1: 1 regions (1 ok)" in line
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples
        }
        key = (("operation", SPH), ("outcome", "ok"), ("region", "us-east-1"))
        assert samples[("spotter_aws_requests_total", key)] == replay_server.calls.count(SPH)
        assert samples[("spotter_fetch_outcomes_total",
                        (("outcome", "ok"), ("region", "us-east-1")))] == 1
        assert samples[("spotter_region_last_success_timestamp_seconds",
                        (("region", "us-east-1"),))] > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
