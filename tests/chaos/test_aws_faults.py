"""AWS faults, injected by the replay endpoint into one region at a time and mixed.

For each: no crash, the other regions fetched as usual, the faulted region's last good prices
kept and served with their true age, its status, the API (/regions, /health) and the fetcher's
metrics naming what happened, and recovery in the first cycle after the fault clears (so within
one interval).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from spotter.fetcher.outcome import FAILED, OK
from support.chaosrig import INTERVAL, REGIONS, TYPES, Held, Rig
from support.figures import FigureLog, seconds

FAULTED = "eu-west-1"
OTHERS = tuple(r for r in REGIONS if r != FAULTED)
SPH = "DescribeSpotPriceHistory"


@dataclass(frozen=True)
class Fault:
    """A fault scoped to FAULTED: its knobs, how the fetch ends, and the state it leaves."""

    name: str
    knobs: dict[str, Any]
    state: str  # region status state after the cycle; "ok" when retries absorb it
    kind: str | None = None  # the error kind of a failed fetch
    faulty_outcomes: tuple[str, ...] = ()  # replay call outcomes that count as tries
    cycles: int = 1  # faulted cycles before the fault clears
    slow: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def scoped(knob: str, **knobs: Any) -> dict[str, Any]:
    return {**knobs, f"{knob}_regions": {FAULTED}}


FAULTS = [
    Fault("throttling burst, absorbed by retries",
          scoped("throttle", throttle_next=1), "ok", None, ("RequestLimitExceeded",)),
    Fault("throttling burst outlasting every retry",
          scoped("throttle", throttle_next=50), "throttled", "throttled",
          ("RequestLimitExceeded",), cycles=2),
    Fault("server errors (InternalError), absorbed",
          scoped("server_errors", server_errors_next=1), "ok", None, ("InternalError",)),
    Fault("server errors (Unavailable) outlasting retries",
          scoped("server_errors", server_errors_next=50, server_error_code="Unavailable"),
          "error", "other", ("Unavailable",), cycles=2),
    Fault("slow calls (0.5 s each, under the 2 s read timeout)",
          scoped("latency", latency=0.5), "ok", None, ()),
    Fault("timed-out calls (held 3.5 s > 2 s read timeout)",
          scoped("timeout", timeout_next=50, timeout_seconds=3.5), "error", "other",
          ("timeout",)),
    Fault("connection resets, absorbed",
          scoped("reset", reset_next=1), "ok", None, ("reset",)),
    Fault("connection resets outlasting retries",
          scoped("reset", reset_next=50), "error", "other", ("reset",), cycles=2),
    Fault("malformed responses (broken XML)",
          scoped("malformed", malformed_next=50), "error", "other", ("malformed",), cycles=2),
    Fault("region turns not enabled (OptInRequired)",
          {"not_enabled_regions": {FAULTED}, "not_enabled_code": "OptInRequired"},
          "not_enabled", "not_enabled", ("OptInRequired",)),
    Fault("AuthFailure in an enabled region (credentials rejected)",
          {"not_enabled_regions": {FAULTED}, "not_enabled_code": "AuthFailure"},
          "unauthorized", "unauthorized", ("AuthFailure",), cycles=2),
    Fault("credentials lose ec2:DescribeSpotPriceHistory",
          {"unauthorized_regions": {FAULTED}, "unauthorized_actions": {SPH}},
          "unauthorized", "unauthorized", ("UnauthorizedOperation",), cycles=2),
]


@pytest.fixture
def rig(replay_server_factory: Any, redis_url: str) -> Iterator[Rig]:
    rig = Rig(replay_server_factory(), redis_url)
    yield rig
    rig.close()


def faulty_calls(rig: Rig, outcomes: tuple[str, ...]) -> int:
    return sum(
        1 for c in rig.server.calls.all() if c.region == FAULTED and c.outcome in outcomes
    )


def count_tries(rig: Rig, fault: Fault) -> int:
    """Faulty calls the endpoint served. A held (timed-out) call is logged when its hold ends,
    after the client gave up: wait for those, up to a generous bound."""
    if "timeout" in fault.faulty_outcomes:
        time.sleep(fault.knobs["timeout_seconds"] + 0.5)  # the last held call ends its hold
    deadline = time.monotonic() + 30
    while True:
        if fault.faulty_outcomes:
            tried = faulty_calls(rig, fault.faulty_outcomes)
        else:
            tried = sum(1 for c in rig.server.calls.all() if c.region == FAULTED and c.delay > 0)
        if tried or time.monotonic() > deadline:
            return tried
        time.sleep(0.1)


def assert_metrics_tell(rig: Rig, fault: Fault) -> None:
    """The fetcher's metrics say what happened: failed fetches by kind, refused attempts."""
    errors = rig.metric("spotter_fetch_errors_total", region=FAULTED)
    if fault.kind is None:
        assert errors == 0
    else:
        kind = rig.metric("spotter_fetch_errors_total", region=FAULTED, kind=fault.kind)
        assert kind == errors == fault.cycles, (kind, errors)
    refused = sum(
        rig.metric("spotter_aws_requests_total", region=FAULTED, outcome=outcome)
        for outcome in ("throttled", "server_error", "client_error", "network_error")
    )
    # A garbled answer raises inside botocore before its response-received event, so that
    # attempt is not counted by outcome; the failed fetch is, in spotter_fetch_errors.
    counted = bool(fault.faulty_outcomes) and fault.faulty_outcomes != ("malformed",)
    assert (refused > 0) == counted, refused
    for region in OTHERS:
        assert rig.metric("spotter_fetch_errors_total", region=region) == 0
        assert rig.metric("spotter_fetch_outcomes_total", region=region, outcome="ok") >= 2


def assert_fresh(rig: Rig, region: str, at: float) -> None:
    for itype in TYPES:
        held = rig.held(region, itype)
        assert held is not None, (region, itype)
        # Fetched in this cycle (the previous one is a whole interval older).
        assert held.fetched_at == pytest.approx(at, abs=INTERVAL / 2), (region, itype)


def assert_served_as_kept(rig: Rig, good: dict[str, Held], now: float) -> None:
    """The faulted region still answers with its last good prices, aged honestly."""
    for itype, held in good.items():
        answer = rig.get(f"/spot-prices/{FAULTED}/{itype}")
        assert answer.status_code == 200, answer.text
        body = answer.json
        assert {z["zone_id"]: z["price"] for z in body["zones"]} == {
            k: float(v) for k, v in held.prices.items()
        }
        assert body["age_seconds"] == pytest.approx(now - held.fetched_at, abs=1.0)
        assert rig.held(FAULTED, itype) == held


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_aws_fault_in_one_region(
    rig: Rig, fault: Fault, figures: FigureLog, caplog: pytest.LogCaptureFixture
) -> None:
    first = rig.cycle()
    assert all(o.state == OK for o in first.outcomes), first.summary()
    good = {t: rig.held(FAULTED, t) for t in TYPES}
    good_at = rig.store.region_statuses([FAULTED])[FAULTED].last_success
    rig.server.calls.clear()
    rig.server.faults.configure(**fault.knobs)

    with caplog.at_level(logging.WARNING):
        for _ in range(fault.cycles):
            started = rig.clock()
            report = rig.cycle().by_region
            for region in OTHERS:
                assert report[region].state == OK, report[region]
                assert_fresh(rig, region, started + INTERVAL)
            status = rig.store.region_statuses([FAULTED])[FAULTED]
            assert status.state == fault.state, status
            if fault.kind is None:
                assert report[FAULTED].state == OK
                assert_fresh(rig, FAULTED, started + INTERVAL)
                continue
            outcome = report[FAULTED]
            assert outcome.state == FAILED and outcome.error is not None
            assert outcome.error.kind == fault.kind, outcome.error
            assert status.last_success == good_at and status.last_error_kind == fault.kind
            assert_served_as_kept(rig, good, rig.clock())  # type: ignore[arg-type]
            listed = rig.region_report(FAULTED)
            assert listed["state"] == fault.state and listed["last_error"]["kind"] == fault.kind
            assert listed["age_seconds"] == pytest.approx(rig.clock() - good_at, abs=1.0)
            health = rig.get("/health").json
            assert health["status"] == "degraded"
            assert any(r.startswith(f"{FAULTED}: ") for r in health["reasons"]), health
            assert all(health["regions"][r]["state"] == "ok" for r in OTHERS)
    assert not [r for r in caplog.records if "unexpected failure" in r.getMessage()]
    tried = count_tries(rig, fault)
    assert tried > 0
    assert_metrics_tell(rig, fault)

    rig.server.faults.clear()
    cleared = time.monotonic()
    report = rig.cycle().by_region
    recovery = time.monotonic() - cleared
    assert all(report[r].state == OK for r in REGIONS), report
    assert rig.store.region_statuses([FAULTED])[FAULTED].state == "ok"
    assert rig.get("/health").json["status"] == "ok"
    for itype in TYPES:
        assert rig.get(f"/spot-prices/{FAULTED}/{itype}").json["age_seconds"] < INTERVAL
    figures.record(
        f"AWS: {fault.name}",
        tried=f"{tried} faulty call(s) over {fault.cycles} cycle(s)",
        served=(
            f"last good prices with their age; status `{fault.state}`; other regions fresh"
            if fault.kind is not None else "fresh prices, a little later"
            if not fault.faulty_outcomes else "fresh prices (retries absorbed it)"
        ),
        lost="nothing",
        recovery=f"next cycle ({seconds(recovery)})",
        group="aws",
    )


def random_fault(rng: random.Random) -> tuple[str, dict[str, Any], str | None]:
    """One fault for FAULTED-independent use: (label, knobs for `region`, expected kind)."""
    return rng.choice([
        ("none", {}, None),
        ("throttle", {"throttle_next": 50}, "throttled"),
        ("server_errors", {"server_errors_next": 50}, "other"),
        ("reset", {"reset_next": 50}, "other"),
        ("malformed", {"malformed_next": 50}, "other"),
        ("unauthorized", {"unauthorized_actions": {SPH}}, "unauthorized"),
        ("latency", {"latency": 0.3}, None),
    ])


def knobs_for(plan: dict[str, tuple[str, dict[str, Any], str | None]]) -> dict[str, Any]:
    """Merge per-region faults into one configure() call: each knob scoped to its regions."""
    knobs: dict[str, Any] = {}
    for region, (label, region_knobs, _) in plan.items():
        if label == "none":
            continue
        scope = "unauthorized" if label == "unauthorized" else label
        knobs.update(region_knobs)
        knobs.setdefault(f"{scope}_regions", set()).add(region)
    return knobs


def run_mixed(rig: Rig, cycles: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    first = rig.cycle()
    assert all(o.state == OK for o in first.outcomes)
    last_good = rig.held_all()
    failures = 0
    for _ in range(cycles):
        plan = {region: random_fault(rng) for region in REGIONS}
        rig.server.faults.clear()
        rig.server.faults.configure(**knobs_for(plan))
        started = rig.clock()
        report = rig.cycle().by_region
        for region, (label, _, kind) in plan.items():
            outcome = report[region]
            if kind is None:
                assert outcome.state == OK, (label, outcome)
                assert_fresh(rig, region, started + INTERVAL)
                last_good.update({(region, t): rig.held(region, t) for t in TYPES})
            else:
                failures += 1
                assert outcome.state == FAILED and outcome.error is not None, (label, outcome)
                assert outcome.error.kind == kind, (label, outcome.error)
        # Nothing lost: every (region, type) still holds exactly its last good fetch.
        assert rig.held_all() == last_good
        health = rig.get("/health").json
        assert health["status"] == ("ok" if all(k is None for *_, k in plan.values())
                                    else "degraded")
    rig.server.faults.clear()
    cleared = time.monotonic()
    report = rig.cycle()
    recovery = time.monotonic() - cleared
    assert all(o.state == OK for o in report.outcomes), report.summary()
    assert rig.get("/health").json["status"] == "ok"
    return {"failures": failures, "recovery": recovery, "calls": len(rig.server.calls)}


def test_mixed_faults_across_regions(rig: Rig, figures: FigureLog) -> None:
    result = run_mixed(rig, cycles=6, seed=7)
    figures.record(
        "AWS: mixed faults, 3 regions x 6 cycles (quick)",
        tried=f"{result['failures']} failed region fetches, {result['calls']} calls",
        served="each region's last good prices, aged; healthy regions fresh",
        lost="nothing", recovery=f"next cycle ({seconds(result['recovery'])})", group="aws",
    )


@pytest.mark.slow
def test_mixed_faults_across_regions_long(rig: Rig, figures: FigureLog) -> None:
    result = run_mixed(rig, cycles=60, seed=2024)
    figures.record(
        "AWS: mixed faults, 3 regions x 60 cycles",
        tried=f"{result['failures']} failed region fetches, {result['calls']} calls",
        served="each region's last good prices, aged; healthy regions fresh",
        lost="nothing", recovery=f"next cycle ({seconds(result['recovery'])})", group="aws",
    )
