"""A failed fetch always says so in the region's status, whatever the failure was: a garbled AWS
answer (botocore's ResponseParserError is not a BotoCoreError) or any exception nobody foresaw.
Before, both left the status reading "ok" over old data."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from spotter.fetcher.outcome import FAILED
from support.chaosrig import REGIONS, Rig


def test_a_garbled_answer_is_a_classified_failure_recorded_in_the_status(
    replay_server_factory: Any, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(replay_server_factory(), redis_url)
    rig.cycle()
    rig.server.faults.configure(malformed_next=10, malformed_regions={"eu-west-1"})
    with caplog.at_level(logging.WARNING):
        outcome = rig.cycle().by_region["eu-west-1"]
    # An AWS failure mode, not a bug: classified where the call is made, no traceback.
    assert not [r for r in caplog.records if "unexpected failure" in r.getMessage()]
    assert outcome.state == FAILED and outcome.error is not None
    assert (outcome.error.kind, outcome.error.code) == ("other", "ResponseParserError")
    status = rig.store.region_statuses(["eu-west-1"])["eu-west-1"]
    assert (status.state, status.last_error_kind) == ("error", "other")
    assert "ResponseParserError" in (status.last_error_message or "")
    rig.close()


def test_an_unforeseen_exception_is_recorded_in_the_status(
    replay_server_factory: Any, redis_url: str
) -> None:
    rig = Rig(replay_server_factory(), redis_url)
    rig.cycle()

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug nobody foresaw")

    rig.fetcher.client("us-west-2").describe_spot_price_history = broken
    report = rig.cycle().by_region
    assert report["us-west-2"].state == FAILED
    assert all(report[r].state == "ok" for r in REGIONS if r != "us-west-2")
    status = rig.store.region_statuses(["us-west-2"])["us-west-2"]
    assert status.state == "error" and "a bug nobody foresaw" in (status.last_error_message or "")
    rig.close()
