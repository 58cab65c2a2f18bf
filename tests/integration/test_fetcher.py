"""The fetch loop: boto3 over HTTP against the replay endpoint, writing to a real Redis."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest
import redis

from spotter.config import Settings
from spotter.fetcher.loop import Fetcher
from spotter.fetcher.outcome import (
    FAILED,
    OK,
    SKIPPED_FRESH,
    SKIPPED_NOT_ENABLED,
    SKIPPED_UNKNOWN,
)
from spotter.store import Store
from support.datasets import bundled_dataset_path, latest_prices

TYPES = ("m5.large", "c5.large")
SPH = "DescribeSpotPriceHistory"


def settings_for(url: str, redis_url: str, **env: str) -> Settings:
    base = {
        "REDIS_URL": redis_url,
        "SPOTTER_AWS_ENDPOINT_URL": url,
        "SPOTTER_SOURCE": "replay",
        "AWS_MAX_ATTEMPTS": "3",
        "UPDATE_INTERVAL": "60",
    }
    return Settings.from_env({**base, **env})


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 signs every request; the replay endpoint reads the region from the signature.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def make_fetcher(
    server, redis_url: str, regions=("us-east-1", "eu-west-1"), types=TYPES, **kwargs
) -> Fetcher:
    settings = settings_for(server.url, redis_url)
    store = Store.from_settings(settings)
    kwargs.setdefault("backoff_base", 0.01)
    return Fetcher(
        settings, store, regions=regions, instance_types=types, products=("Linux/UNIX",), **kwargs
    )


def latest_linux(region: str, itype: str) -> dict[str, Decimal]:
    """zone id -> latest Linux/UNIX price, computed from the bundled records."""
    prices = latest_prices(bundled_dataset_path(), {itype})
    return {zone_id: p for (_, r, zone_id), p in prices.items() if r == region}


def stored(fetcher: Fetcher, region: str, itype: str) -> dict[str, Decimal] | None:
    view = fetcher.store.spot_prices_view(region, itype, "Linux/UNIX")
    if view.prices is None:
        return None
    return {z.zone_id: z.price for z in view.prices.zones}


def test_one_cycle_stores_every_regions_latest_prices(replay_server, redis_url) -> None:
    fetcher = make_fetcher(replay_server, redis_url)
    report = fetcher.run_cycle()
    assert {o.region: o.state for o in report.outcomes} == {"us-east-1": OK, "eu-west-1": OK}
    for region in ("us-east-1", "eu-west-1"):
        for itype in TYPES:
            assert stored(fetcher, region, itype) == latest_linux(region, itype)
    # One call per region with the whole type list: the minimum the data needs.
    assert replay_server.calls.count(SPH) == 2


def test_small_pages_give_the_same_snapshot(replay_server_factory, redis_url) -> None:
    server = replay_server_factory(page_size=3)
    types = sorted({t for t, r, _ in latest_prices(bundled_dataset_path()) if r == "us-east-1"})
    fetcher = make_fetcher(server, redis_url, regions=("us-east-1",), types=types[:40])
    fetcher.run_cycle()
    records = sum(c.records for c in server.calls.all() if c.action == SPH)
    assert server.calls.count(SPH) == -(-records // 3) > 5
    for itype in types[:40]:
        assert stored(fetcher, "us-east-1", itype) == latest_linux("us-east-1", itype)


@pytest.mark.parametrize("code", ["AuthFailure", "OptInRequired"])
def test_region_not_enabled_is_reported_and_not_retried_hot(
    replay_server_factory, redis_url, code
) -> None:
    # Discovery denied, so the fetcher must learn "not enabled" from the call itself.
    server = replay_server_factory(
        not_enabled_regions={"ap-east-1"},
        not_enabled_code=code,
        unauthorized_actions={"DescribeRegions"},
        unauthorized_regions={"us-east-1"},
    )
    fetcher = make_fetcher(server, redis_url, regions=("us-east-1", "ap-east-1"))
    first = fetcher.run_cycle().by_region
    assert first["us-east-1"].state == OK
    assert first["ap-east-1"].state == FAILED and first["ap-east-1"].error.kind == "not_enabled"
    calls = server.calls.count(SPH, region="ap-east-1")
    second = fetcher.run_cycle().by_region
    assert second["ap-east-1"].state == SKIPPED_NOT_ENABLED
    assert server.calls.count(SPH, region="ap-east-1") == calls
    status = fetcher.store.region_statuses(["ap-east-1"])["ap-east-1"]
    assert status.state == "not_enabled" and status.next_check is not None
    assert stored(fetcher, "us-east-1", "m5.large")


def test_catalog_says_not_opted_in_so_no_call_is_made(replay_server, redis_url) -> None:
    fetcher = make_fetcher(replay_server, redis_url, regions=("us-east-1", "ap-east-1"))
    outcome = fetcher.run_cycle().by_region
    assert outcome["ap-east-1"].state == SKIPPED_NOT_ENABLED
    assert replay_server.calls.count(SPH, region="ap-east-1") == 0
    assert fetcher.store.region_statuses(["ap-east-1"])["ap-east-1"].state == "not_enabled"


def test_unauthorized_everywhere_stores_no_price_and_says_why(
    replay_server_factory, redis_url
) -> None:
    server = replay_server_factory(unauthorized=True)
    fetcher = make_fetcher(server, redis_url)
    report = fetcher.run_cycle()
    assert all(o.state == FAILED and o.error.kind == "unauthorized" for o in report.outcomes)
    assert stored(fetcher, "us-east-1", "m5.large") is None
    status = fetcher.store.region_statuses(["us-east-1"])["us-east-1"]
    assert status.state == "unauthorized" and "UnauthorizedOperation" in status.last_error_message


def test_throttled_region_keeps_last_good_data_and_recovers(replay_server, redis_url) -> None:
    fetcher = make_fetcher(replay_server, redis_url, interval=60)
    fetcher.run_cycle()
    good_at = fetcher.store.type_freshness("eu-west-1", "Linux/UNIX", ["m5.large"])["m5.large"]
    before = stored(fetcher, "eu-west-1", "m5.large")
    fetcher.store.client.delete(
        fetcher.store.keys.freshness("Linux/UNIX", "us-east-1"),
        fetcher.store.keys.freshness("Linux/UNIX", "eu-west-1"),
    )
    replay_server.faults.configure(throttle_next=6, throttle_regions={"eu-west-1"})
    started = time.monotonic()
    second = fetcher.run_cycle().by_region
    assert second["us-east-1"].state == OK
    assert second["eu-west-1"].state == FAILED and second["eu-west-1"].error.kind == "throttled"
    assert replay_server.calls.count(SPH, region="eu-west-1", outcome="RequestLimitExceeded") == 6
    assert stored(fetcher, "eu-west-1", "m5.large") == before
    status = fetcher.store.region_statuses(["eu-west-1"])["eu-west-1"]
    assert status.state == "throttled" and status.last_success == pytest.approx(good_at, abs=1e-3)
    assert time.monotonic() - started < 30
    fetcher.store.client.delete(fetcher.store.keys.freshness("Linux/UNIX", "eu-west-1"))
    third = fetcher.run_cycle().by_region
    assert third["eu-west-1"].state == OK
    assert fetcher.store.region_statuses(["eu-west-1"])["eu-west-1"].state == "ok"


def test_two_fetchers_watching_the_same_types_call_aws_once(replay_server, redis_url) -> None:
    first = make_fetcher(replay_server, redis_url)
    second = make_fetcher(replay_server, redis_url)
    first.run_cycle()
    calls = replay_server.calls.count(SPH)
    report = second.run_cycle()
    assert all(o.state == SKIPPED_FRESH for o in report.outcomes)
    assert replay_server.calls.count(SPH) == calls


def test_late_lock_holder_never_replaces_the_newer_fetch(
    replay_server_factory, redis_url, caplog
) -> None:
    slow_server = replay_server_factory(latency=3.0)
    fast_server = replay_server_factory()
    slow = make_fetcher(slow_server, redis_url, regions=("us-east-1",), lock_ttl=0.4)
    fast = make_fetcher(fast_server, redis_url, regions=("us-east-1",), lock_ttl=10)
    # Region discovery happens before the race, so the slow one takes the lock first.
    slow.regions()
    fast.regions()
    lock_key = slow.store.keys.lock("us-east-1")
    slow_thread = threading.Thread(target=slow.run_cycle)
    with caplog.at_level(logging.WARNING, logger="spotter.fetcher"):
        slow_thread.start()
        deadline = time.monotonic() + 20
        while not slow.store.client.exists(lock_key) and time.monotonic() < deadline:
            time.sleep(0.01)
        # Its lock (0.4 s) expires while it waits on AWS (3 s a call): the fast one takes over.
        time.sleep(0.6)
        assert fast.run_cycle().by_region["us-east-1"].state == OK
        fast_at = fast.store.type_freshness("us-east-1", "Linux/UNIX", ["m5.large"])["m5.large"]
        slow_thread.join(20)
    assert fast.store.type_freshness("us-east-1", "Linux/UNIX", ["m5.large"])["m5.large"] == fast_at
    assert any("lock expired before release" in r.getMessage() for r in caplog.records)


def test_redis_down_fails_the_cycle_without_crashing(
    replay_server, redis_server, redis_url
) -> None:
    fetcher = make_fetcher(replay_server, redis_url)
    redis_server.stop()
    try:
        report = fetcher.run_cycle()
        assert all(o.state != OK for o in report.outcomes)
    finally:
        redis_server.start()
    assert all(o.state == OK for o in fetcher.run_cycle().outcomes)


def test_fetch_command_logs_each_cycle_and_stops_cleanly_on_sigterm(
    replay_server, redis_url
) -> None:
    env = {
        "REDIS_URL": redis_url,
        "SPOTTER_AWS_ENDPOINT_URL": replay_server.url,
        "SPOTTER_SOURCE": "replay",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spotter.cli",
            "fetch",
            "--regions",
            "us-east-1",
            "--instance-types",
            "m5.large",
            "--interval",
            "1m",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 90
        while "cycle 1:" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        assert "cycle 1: 1 regions (1 ok)" in line
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert redis.Redis.from_url(redis_url).exists("spotter:q:linux:m5.large")


def test_bad_fetch_arguments_stop_at_start_naming_them(redis_url) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spotter.cli", "fetch", "--instance-types", "t3..micro"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"REDIS_URL": redis_url, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2 and "--instance-types" in result.stdout + result.stderr


def test_a_region_the_account_does_not_have_is_reported_not_called(replay_server,
                                                                    redis_url) -> None:
    fetcher = make_fetcher(replay_server, redis_url, regions=("us-east-1", "us-east-7"))
    outcome = fetcher.run_cycle().by_region
    assert outcome["us-east-1"].state == OK
    assert outcome["us-east-7"].state == SKIPPED_UNKNOWN
    assert replay_server.calls.count(region="us-east-7") == 0
    status = fetcher.store.region_statuses(["us-east-7"])["us-east-7"]
    assert "not a region of this account" in status.last_error_message
