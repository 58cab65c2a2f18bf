"""The status builder: shards from Deployments, regions from Redis, and the two conditions."""

from __future__ import annotations

from typing import Any

from spotter.model import RegionStatus
from spotter.operator.planning import Shard
from spotter.operator.status import Observation, build_status, stale_after
from spotter.operator.watch import Watch

NOW = 1_700_000_000.0
WATCH = Watch(name="w", namespace="ns", uid="u", generation=4,
              instance_types=("t3.micro", "m5.large"), interval=300.0, regions_per_shard=2)
PLAN = [Shard(0, ("eu-west-1", "us-east-1")), Shard(1, ("ap-east-1",))]


def ready_deployment(replicas: int = 1, ready: int = 1, generation: int = 1) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "spec": {"replicas": replicas},
            "status": {"readyReplicas": ready, "observedGeneration": generation}}


def ok(region: str, age: float, quotes: int = 6) -> RegionStatus:
    return RegionStatus(region=region, state="ok", last_success=NOW - age, quotes=quotes)


def observe(**changes: Any) -> Observation:
    values: dict[str, Any] = {
        "shards": PLAN,
        "deployments": {"w-fetcher-0": ready_deployment(), "w-fetcher-1": ready_deployment()},
        "regions": {r: ok(r, 30) for r in ("eu-west-1", "us-east-1", "ap-east-1")},
        "catalog": {"eu-west-1": "opt-in-not-required", "us-east-1": "opt-in-not-required",
                    "ap-east-1": "opted-in"},
        "now": NOW,
    }
    values.update(changes)
    return Observation(**values)


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_all_fresh_and_ready_golden() -> None:
    status = build_status(WATCH, observe(regions={
        "eu-west-1": ok("eu-west-1", 30), "us-east-1": ok("us-east-1", 90),
        "ap-east-1": ok("ap-east-1", 60)}))
    assert status == {
        "observedGeneration": 4,
        "typeCount": 2,
        "regionCount": 3,
        "shardsReady": "2/2",
        "shards": [
            {"name": "w-fetcher-0", "index": 0, "regions": ["eu-west-1", "us-east-1"],
             "replicas": 1, "readyReplicas": 1, "ready": True},
            {"name": "w-fetcher-1", "index": 1, "regions": ["ap-east-1"],
             "replicas": 1, "readyReplicas": 1, "ready": True},
        ],
        "regions": {
            "ap-east-1": {"state": "ok", "lastSuccess": "2023-11-14T22:12:20Z",
                          "ageSeconds": 60, "quotes": 6},
            "eu-west-1": {"state": "ok", "lastSuccess": "2023-11-14T22:12:50Z",
                          "ageSeconds": 30, "quotes": 6},
            "us-east-1": {"state": "ok", "lastSuccess": "2023-11-14T22:11:50Z",
                          "ageSeconds": 90, "quotes": 6},
        },
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Fresh",
             "message": "all 3 enabled regions refreshed within 660s",
             "lastTransitionTime": "2023-11-14T22:13:20Z", "observedGeneration": 4},
            {"type": "Degraded", "status": "False", "reason": "AsExpected",
             "message": "no region reports an error",
             "lastTransitionTime": "2023-11-14T22:13:20Z", "observedGeneration": 4},
        ],
        "message": "all 3 enabled regions refreshed within 660s",
        "freshest": "2023-11-14T22:12:50Z",
        "oldest": "2023-11-14T22:11:50Z",
    }


def test_shards_without_ready_replicas_are_not_ready() -> None:
    status = build_status(WATCH, observe(deployments={
        "w-fetcher-0": ready_deployment(ready=0), "w-fetcher-1": ready_deployment()}))
    assert status["shardsReady"] == "1/2"
    assert conditions(status)["Ready"] == ("False", "ShardsNotReady")
    assert "w-fetcher-0" in status["message"]


def test_a_deployment_not_yet_observed_is_not_ready() -> None:
    stale = ready_deployment(generation=2)
    stale["status"]["observedGeneration"] = 1
    status = build_status(WATCH, observe(deployments={"w-fetcher-0": stale,
                                                      "w-fetcher-1": ready_deployment()}))
    assert status["shards"][0]["ready"] is False


def test_old_success_is_stale_and_degrades() -> None:
    age = stale_after(WATCH.interval) + 1
    status = build_status(WATCH, observe(regions={
        "eu-west-1": ok("eu-west-1", age), "us-east-1": ok("us-east-1", 5),
        "ap-east-1": ok("ap-east-1", 5)}))
    assert status["regions"]["eu-west-1"]["state"] == "stale"
    assert conditions(status) == {"Ready": ("False", "RegionsNotFresh"),
                                  "Degraded": ("True", "RegionsStale")}


def test_region_not_enabled_comes_from_the_catalog_and_does_not_block_ready() -> None:
    status = build_status(WATCH, observe(
        catalog={"eu-west-1": "opt-in-not-required", "us-east-1": "opt-in-not-required",
                 "ap-east-1": "not-opted-in"},
        regions={"eu-west-1": ok("eu-west-1", 5), "us-east-1": ok("us-east-1", 5),
                 "ap-east-1": RegionStatus("ap-east-1", state="not_enabled",
                                           last_error_kind="not_enabled",
                                           last_error_message="OptInRequired",
                                           last_error_at=NOW - 3)}))
    assert status["regions"]["ap-east-1"]["state"] == "not_enabled"
    assert status["regions"]["ap-east-1"]["lastError"] == "not_enabled: OptInRequired"
    assert conditions(status) == {"Ready": ("True", "Fresh"),
                                  "Degraded": ("True", "RegionsNotEnabled")}


def test_fetch_errors_degrade_with_their_kind() -> None:
    failing = RegionStatus("us-east-1", state="unauthorized", last_success=NOW - 30,
                           last_error_kind="unauthorized", last_error_message="denied",
                           last_error_at=NOW - 1, quotes=3)
    status = build_status(WATCH, observe(regions={
        "eu-west-1": ok("eu-west-1", 5), "us-east-1": failing, "ap-east-1": ok("ap-east-1", 5)}))
    assert status["regions"]["us-east-1"]["state"] == "unauthorized"
    assert status["regions"]["us-east-1"]["lastError"] == "unauthorized: denied"
    assert conditions(status)["Degraded"] == ("True", "RegionErrors")


def test_redis_unavailable_makes_ready_unknown() -> None:
    status = build_status(WATCH, observe(regions=None))
    assert conditions(status) == {"Ready": ("Unknown", "StoreUnavailable"),
                                  "Degraded": ("True", "StoreUnavailable")}
    assert status["regions"]["us-east-1"] == {"state": "unknown"}
    assert status["freshest"] is None and status["oldest"] is None


def test_never_fetched_regions_are_pending_and_not_ready() -> None:
    status = build_status(WATCH, observe(regions={}))
    assert status["regions"]["us-east-1"] == {"state": "pending"}
    assert conditions(status)["Ready"] == ("False", "RegionsNotFresh")


def test_paused_and_empty_plans() -> None:
    paused = Watch(**{**{n: getattr(WATCH, n) for n in Watch.__slots__}, "paused": True})
    assert conditions(build_status(paused, observe()))["Ready"] == ("False", "Paused")
    empty = build_status(WATCH, observe(shards=[], deployments={}))
    assert conditions(empty)["Ready"] == ("False", "NoRegions")
    assert empty["shardsReady"] == "0/0" and empty["regionCount"] == 0


def test_reconcile_errors_win() -> None:
    status = build_status(WATCH, observe(error="permission denied: patch deployments"))
    assert conditions(status) == {"Ready": ("False", "ReconcileFailed"),
                                  "Degraded": ("True", "ReconcileFailed")}


def test_transition_time_is_kept_while_the_status_holds() -> None:
    first = build_status(WATCH, observe())
    later = build_status(WATCH, observe(now=NOW + 600, regions={
        r: RegionStatus(r, state="ok", last_success=NOW + 590, quotes=6)
        for r in ("eu-west-1", "us-east-1", "ap-east-1")}), previous=first)
    assert [c["lastTransitionTime"] for c in later["conditions"]] == [
        c["lastTransitionTime"] for c in first["conditions"]]
    flipped = build_status(WATCH, observe(now=NOW + 900, regions=None), previous=later)
    assert flipped["conditions"][0]["lastTransitionTime"] == "2023-11-14T22:28:20Z"
