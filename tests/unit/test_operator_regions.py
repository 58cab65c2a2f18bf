"""The region catalog: one DescribeRegions per TTL, and the last good answer on failure."""

from __future__ import annotations

import pytest

from spotter.aws.errors import AwsError
from spotter.operator.regions import RegionCatalog, enabled_regions

STATUSES = {"us-east-1": "opt-in-not-required", "af-south-1": "not-opted-in",
            "ap-east-1": "opted-in"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Discover:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        if self.fail:
            raise AwsError("throttled", "RequestLimitExceeded", "slow down")
        return dict(STATUSES)


def test_enabled_regions_exclude_not_opted_in() -> None:
    assert enabled_regions(STATUSES) == ["ap-east-1", "us-east-1"]


def test_one_call_per_ttl() -> None:
    clock, discover = Clock(), Discover()
    catalog = RegionCatalog(discover, ttl=600, clock=clock)
    assert catalog.statuses() == STATUSES
    clock.now = 599
    catalog.statuses()
    assert discover.calls == 1
    clock.now = 600
    catalog.statuses()
    assert discover.calls == 2


def test_a_failed_refresh_keeps_the_last_answer_and_retries_sooner() -> None:
    clock, discover = Clock(), Discover()
    catalog = RegionCatalog(discover, ttl=600, clock=clock)
    catalog.statuses()
    discover.fail = True
    clock.now = 700
    assert catalog.statuses() == STATUSES
    clock.now = 700 + 59
    catalog.statuses()
    assert discover.calls == 2
    clock.now = 700 + 61
    catalog.statuses()
    assert discover.calls == 3


def test_no_answer_at_all_raises_but_known_is_empty() -> None:
    discover = Discover()
    discover.fail = True
    catalog = RegionCatalog(discover, clock=Clock())
    with pytest.raises(AwsError):
        catalog.statuses()
    assert catalog.known() == {}
