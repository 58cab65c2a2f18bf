"""Which Events a reconcile posts, and the repeat limit on warnings."""

from __future__ import annotations

from typing import Any

from spotter.operator.events import WARNING_REPEAT, Notice, Recorder, notices
from spotter.operator.planning import Shard
from spotter.operator.status import failure_status
from spotter.operator.watch import Watch

WATCH = Watch(name="w", namespace="ns", uid="u", generation=1, instance_types=("t3.micro",),
              regions=("ap-east-1", "eu-west-1", "us-east-1"), regions_per_shard=2)
PLAN = [Shard(0, ("ap-east-1", "eu-west-1")), Shard(1, ("us-east-1",))]
CATALOG = {"ap-east-1": "not-opted-in", "eu-west-1": "opt-in-not-required",
           "us-east-1": "opt-in-not-required"}


def reasons(found: list[Notice]) -> list[str]:
    return [n.reason for n in found]


def test_first_plan_and_a_region_not_enabled() -> None:
    found = notices(WATCH, [], PLAN, CATALOG, [], [], None)
    assert found == [
        Notice("Normal", "ShardsPlanned", "2 fetcher shard(s) over 3 region(s)"),
        Notice("Warning", "RegionNotEnabled",
               "not enabled for this AWS account: ap-east-1; its fetcher only reports it "
               "(enable it in the AWS console)"),
    ]


def test_an_unchanged_plan_says_nothing_and_not_enabled_is_said_once() -> None:
    old_status = {"regions": {"ap-east-1": {"state": "not_enabled"}}}
    assert notices(WATCH, PLAN, PLAN, CATALOG, [], [], old_status) == []


def test_changed_plans_count_moves_and_name_the_pruned() -> None:
    after = [Shard(0, ("ap-east-1", "eu-west-1", "us-east-1"))]
    found = notices(WATCH, PLAN, after, {}, ["w-fetcher-1"], [], None)
    assert found == [Notice("Normal", "ShardsChanged",
                            "1 fetcher shard(s) over 3 region(s) (was 2); 1 region(s) moved; "
                            "pruned w-fetcher-1")]


def test_restored_fetchers_and_unknown_regions() -> None:
    found = notices(WATCH, PLAN, PLAN, {"us-east-1": "opt-in-not-required"}, [],
                    ["w-fetcher-1 (missing)"], None)
    assert reasons(found) == ["FetcherRestored", "RegionUnknown"]
    assert "ap-east-1, eu-west-1" in found[1].message


class FakeKube:
    def __init__(self) -> None:
        self.posted: list[tuple[str, str]] = []

    def post_event(self, body: Any, type_: str, reason: str, message: str) -> None:
        self.posted.append((type_, reason))


def test_the_same_warning_is_posted_at_most_every_ten_minutes() -> None:
    kube, now = FakeKube(), [0.0]
    recorder = Recorder(kube, lambda: now[0])  # type: ignore[arg-type]
    body = {"metadata": {"name": "w", "namespace": "ns"}}
    warning = Notice("Warning", "PermissionDenied", "no")
    for _ in range(3):
        recorder.post(body, warning)
    recorder.post(body, Notice("Normal", "ShardsChanged", "x"))
    recorder.post(body, Notice("Normal", "ShardsChanged", "x"))
    now[0] = WARNING_REPEAT
    recorder.post(body, warning)
    assert kube.posted == [("Warning", "PermissionDenied"), ("Normal", "ShardsChanged"),
                           ("Normal", "ShardsChanged"), ("Warning", "PermissionDenied")]


def test_failure_status_keeps_the_transition_time_while_failing() -> None:
    first = failure_status("ReconcileFailed", "boom", 2, 1_700_000_000.0)
    assert [(c["type"], c["status"], c["reason"]) for c in first["conditions"]] == [
        ("Ready", "False", "ReconcileFailed"), ("Degraded", "True", "ReconcileFailed")]
    later = failure_status("ReconcileFailed", "boom again", 2, 1_700_000_600.0, first)
    assert later["conditions"][0]["lastTransitionTime"] == first["conditions"][0][
        "lastTransitionTime"]
    assert later["message"] == "boom again"
