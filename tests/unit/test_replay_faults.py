"""Fault knobs: counters consumed per call, region scopes, validation, and reset."""

from __future__ import annotations

import pytest

from spotter.replay.faults import FAULT_KNOBS, FaultDecision, Faults
from spotter.replay.options import ReplayOptions


def test_no_faults_by_default() -> None:
    assert Faults().decide("us-east-1", "DescribeSpotPriceHistory") == FaultDecision()


def test_throttle_counts_down_then_calls_succeed() -> None:
    faults = Faults(throttle_next=2)
    errors = [faults.decide("us-east-1", "DescribeRegions").error for _ in range(3)]
    assert errors == ["RequestLimitExceeded", "RequestLimitExceeded", None]


def test_a_scoped_counter_is_only_consumed_in_its_regions() -> None:
    faults = Faults(server_errors_next=1, server_errors_regions={"eu-west-1"})
    assert faults.decide("us-east-1", "X").error is None
    assert faults.decide("eu-west-1", "X").error == "InternalError"
    assert faults.decide("eu-west-1", "X").error is None


def test_not_enabled_regions_answer_the_chosen_code_every_time() -> None:
    faults = Faults(not_enabled_regions={"eu-west-3"}, not_enabled_code="OptInRequired")
    assert [faults.decide("eu-west-3", "X").error for _ in range(2)] == ["OptInRequired"] * 2
    assert faults.not_enabled("eu-west-3") and not faults.not_enabled("us-east-1")


def test_unauthorized_may_be_scoped_to_regions_and_actions() -> None:
    everywhere = Faults(unauthorized=True)
    assert everywhere.decide("us-east-1", "DescribeRegions").error == "UnauthorizedOperation"
    scoped = Faults(
        unauthorized_regions={"us-west-2"}, unauthorized_actions={"DescribeSpotPriceHistory"}
    )
    assert scoped.decide("us-west-2", "DescribeSpotPriceHistory").error == "UnauthorizedOperation"
    assert scoped.decide("us-west-2", "DescribeRegions").error is None
    assert scoped.decide("us-east-1", "DescribeSpotPriceHistory").error is None


def test_latency_and_timeout_add_up_and_the_call_is_then_answered() -> None:
    faults = Faults(latency=0.25, timeout_next=1, timeout_seconds=3)
    first = faults.decide("us-east-1", "X")
    assert first.delay == pytest.approx(3.25) and first.transport == "timeout"
    assert first.error is None
    assert faults.decide("us-east-1", "X") == FaultDecision(delay=0.25)


def test_one_transport_fault_per_call_in_a_fixed_order() -> None:
    faults = Faults(reset_next=1, malformed_next=1, throttle_next=1)
    assert faults.decide("r", "X").transport == "reset"
    assert faults.decide("r", "X").transport == "malformed"
    assert faults.decide("r", "X") == FaultDecision(error="RequestLimitExceeded")


def test_reset_restores_the_start_up_knobs_and_clear_removes_all() -> None:
    faults = Faults(throttle_next=1)
    faults.decide("r", "X")
    faults.configure(latency=2)
    faults.reset()
    assert faults.snapshot()["throttle_next"] == 1 and faults.snapshot()["latency"] == 0
    faults.clear()
    assert faults.snapshot() == {
        k: sorted(v) if isinstance(v, frozenset) else v for k, v in FAULT_KNOBS.items()
    }


@pytest.mark.parametrize(
    "knobs",
    [
        {"throttle_nxt": 1},
        {"throttle_next": -1},
        {"throttle_next": True},
        {"latency": "slow"},
        {"not_enabled_code": "Forbidden"},
        {"server_error_code": "BadGateway"},
        {"throttle_regions": "us-east-1"},
        {"unauthorized": "yes"},
    ],
)
def test_bad_knobs_are_rejected_by_name(knobs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(knobs)).split("_nxt")[0]):
        Faults().configure(**knobs)


def test_options_accept_any_iterable_of_regions_and_feed_the_faults() -> None:
    options = ReplayOptions(not_enabled_regions={"eu-west-3"}, throttle_regions=["us-east-1"])
    assert options.throttle_regions == frozenset({"us-east-1"})
    faults = Faults(**options.fault_knobs())
    assert faults.snapshot()["not_enabled_regions"] == ["eu-west-3"]
    assert set(options.fault_knobs()) == set(FAULT_KNOBS)


def test_options_reject_a_useless_page_size_or_speed() -> None:
    with pytest.raises(ValueError, match="page_size"):
        ReplayOptions(page_size=0)
    with pytest.raises(ValueError, match="speed"):
        ReplayOptions(speed=-1)
