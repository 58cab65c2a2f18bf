"""The operator against the real API server: plan, apply, update, prune, repair, delete."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from test_operator_support import (
    FETCHER_IMAGE,
    OperatorProcess,
    container,
    fetchers,
    regions_of,
    spotwatch,
    wait_for,
)

from spotter.operator.config import OperatorConfig
from spotter.operator.kube import Kube
from spotter.operator.manifests import fetcher_deployment
from spotter.operator.planning import plan_shards
from spotter.operator.watch import Watch
from support.controlplane import ControlPlane

pytestmark = pytest.mark.k8s

RunOperator = Callable[..., OperatorProcess]
FIVE = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1"]


def events(kube: Kube, namespace: str, name: str) -> list[tuple[str, str, str]]:
    response = kube.core.list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}", _preload_content=False)
    return [(e["type"], e["reason"], e["message"])
            for e in json.loads(response.data)["items"]]


def contains(live: Any, desired: Any, path: str = "") -> list[str]:
    """Where `live` lacks or differs from `desired` (the API server may add defaults)."""
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return [path]
        return [p for k, v in desired.items() for p in contains(live.get(k), v, f"{path}.{k}")]
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [path]
        return [p for i, (a, b) in enumerate(zip(live, desired, strict=True))
                for p in contains(a, b, f"{path}[{i}]")]
    return [] if live == desired else [f"{path}: {live!r} != {desired!r}"]


def expected_deployments(
    body: dict[str, Any], regions: list[str], env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    watch = Watch.from_body(body)
    config = OperatorConfig.from_env(env)
    return {d["metadata"]["name"]: d for d in (
        fetcher_deployment(watch, shard, config)
        for shard in plan_shards(regions, watch.regions_per_shard))}


def wait_status(kube: Kube, namespace: str, name: str, check: Callable[[dict], bool],
                timeout: float = 30) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body = kube.get_watch(namespace, name)
        return body if body and check(body.get("status") or {}) else None

    return wait_for(probe, timeout=timeout, what=f"the status of {namespace}/{name}")


def test_applied_spotwatch_gets_planned_fetchers_with_env_labels_and_owner(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
    operator_env: dict[str, str],
) -> None:
    run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro", "m5.large"],
                                       regions=FIVE, regionsPerShard=2, interval="10m"))
    body = wait_status(kube, namespace, "fleet", lambda s: s.get("shardsReady") == "0/3")
    live = wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3
                    and fetchers(kube, namespace, "fleet"), what="three fetchers")

    expected = expected_deployments(body, FIVE, operator_env)
    assert sorted(live) == sorted(expected) == [f"fleet-fetcher-{i}" for i in range(3)]
    for name, deployment in live.items():
        want = {key: expected[name][key] for key in ("metadata", "spec")}  # lists omit kind
        assert contains(deployment, want) == [], name
        meta = deployment["metadata"]
        assert meta["namespace"] == namespace
        assert meta["ownerReferences"] == [{
            "apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch", "name": "fleet",
            "uid": body["metadata"]["uid"], "controller": True}]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "spotter-operator"
        c = container(deployment)
        assert c["image"] == FETCHER_IMAGE
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env == {"REDIS_URL": operator_env["REDIS_URL"],
                       "SPOTTER_AWS_ENDPOINT_URL": operator_env["SPOTTER_AWS_ENDPOINT_URL"],
                       "SPOTTER_SOURCE": "replay", "AWS_REGION": "us-east-1",
                       "SPOTTER_SHARD": f"{namespace}/fleet/{meta['labels']['spotter.dev/shard']}"}
        assert c["command"][-2:] == ["--interval", "600"]
    assert sorted(r for rs in regions_of(live).values() for r in rs) == sorted(FIVE)
    status = body["status"]
    assert [s["regions"] for s in status["shards"]] == list(regions_of(live).values())
    assert status["regionCount"] == 5 and status["typeCount"] == 2
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert ("Normal", "ShardsPlanned", "3 fetcher shard(s) over 5 region(s)") in events(
        kube, namespace, "fleet")


def test_updating_types_regions_and_shard_size_replans_and_prunes(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"],
                                       regions=FIVE, regionsPerShard=2))
    before = wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3
                      and regions_of(fetchers(kube, namespace, "fleet")), what="three fetchers")

    kube_control_plane.kubectl("patch", "sw", "fleet", "-n", namespace, "--type=merge", "-p",
                               '{"spec": {"instanceTypes": ["t3.micro", "c5.large"],'
                               ' "regions": ' + str([*FIVE, "sa-east-1"]).replace("'", '"')
                               + "}}")

    def replanned() -> dict[str, list[str]] | None:
        live = fetchers(kube, namespace, "fleet")
        commands = [container(d)["command"] for d in live.values()]
        if any("t3.micro,c5.large" not in c for c in commands):
            return None
        regions = regions_of(live)
        return regions if sum(map(len, regions.values())) == 6 else None

    after = wait_for(replanned, what="the new types and regions")
    assert len(after) == 3
    moved = {r for name, rs in before.items() for r in rs if r not in after[name]}
    assert moved == set(), "adding a region moved others"

    kube_control_plane.kubectl("patch", "sw", "fleet", "-n", namespace, "--type=merge", "-p",
                               '{"spec": {"regionsPerShard": 4}}')
    wait_for(lambda: sorted(fetchers(kube, namespace, "fleet")) == [
        "fleet-fetcher-0", "fleet-fetcher-1"], what="the third shard to be pruned")
    body = wait_status(kube, namespace, "fleet",
                       lambda s: s.get("shardsReady") == "0/2" and s.get("regionCount") == 6)
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"] == 3
    reasons = [reason for _, reason, _ in events(kube, namespace, "fleet")]
    assert reasons.count("ShardsChanged") >= 2


def test_a_fetcher_deleted_by_hand_comes_back_as_planned(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"],
                                       regions=FIVE, regionsPerShard=2))
    planned = wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3
                       and fetchers(kube, namespace, "fleet"), what="three fetchers")
    old_uid = planned["fleet-fetcher-1"]["metadata"]["uid"]

    kube_control_plane.kubectl("delete", "deployment", "fleet-fetcher-1", "-n", namespace)

    def restored() -> dict[str, Any] | None:
        live = fetchers(kube, namespace, "fleet").get("fleet-fetcher-1")
        return live if live and live["metadata"]["uid"] != old_uid else None

    again = wait_for(restored, timeout=15, what="fleet-fetcher-1 to come back")
    assert container(again)["command"] == container(planned["fleet-fetcher-1"])["command"]
    wait_for(lambda: any(r == "FetcherRestored" and "fleet-fetcher-1 (missing)" in m
                         for _, r, m in events(kube, namespace, "fleet")),
             what="a FetcherRestored event")


def test_a_fetcher_edited_by_hand_comes_back_as_planned(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"],
                                       regions=FIVE, regionsPerShard=2))
    planned = wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3
                       and fetchers(kube, namespace, "fleet"), what="three fetchers")
    want = container(planned["fleet-fetcher-0"])

    kube_control_plane.kubectl("set", "env", "deployment/fleet-fetcher-0", "-n", namespace,
                               "SPOTTER_SOURCE=aws-api", "SNEAKY=1")
    kube_control_plane.kubectl("patch", "deployment", "fleet-fetcher-2", "-n", namespace,
                               "--type=json", "-p", '[{"op": "replace", "path": '
                               '"/spec/template/spec/containers/0/command/3", '
                               '"value": "us-east-1"}]')

    def back() -> bool:
        live = fetchers(kube, namespace, "fleet")
        return (container(live["fleet-fetcher-0"])["env"] == want["env"]
                and container(live["fleet-fetcher-2"])["command"]
                == container(planned["fleet-fetcher-2"])["command"])

    wait_for(back, timeout=15, what="the edited fetchers to be restored")


def test_drift_while_the_operator_was_down_is_repaired_on_resume(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    first = run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"],
                                       regions=FIVE, regionsPerShard=2))
    wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3, what="three fetchers")
    first.stop()
    kube_control_plane.kubectl("delete", "deployment", "fleet-fetcher-0", "fleet-fetcher-2",
                               "-n", namespace)
    run_operator([namespace])
    wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3, timeout=20,
             what="the missing fetchers after a restart")


def test_paused_watch_scales_fetchers_to_zero(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"],
                                       regions=FIVE[:2], paused=True))
    body = wait_status(kube, namespace, "fleet", lambda s: bool(s.get("conditions")))
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Paused")
    assert [d["spec"]["replicas"] for d in fetchers(kube, namespace, "fleet").values()] == [0]


def test_every_enabled_region_is_planned_when_none_are_listed(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    run_operator([namespace])
    kube_control_plane.apply(spotwatch("all", namespace, instanceTypes=["t3.micro"]))
    body = wait_status(kube, namespace, "all", lambda s: s.get("regionCount", 0) > 0)
    live = fetchers(kube, namespace, "all")
    regions = sorted(r for rs in regions_of(live).values() for r in rs)
    # the replay endpoint's account: the 17 regions with recorded prices are enabled
    assert len(regions) == body["status"]["regionCount"] == 17
    assert "us-east-1" in regions and "ap-east-1" not in regions
    assert len(live) == 5  # ceil(17 / 4)


def test_a_listed_region_not_enabled_is_reported(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    run_operator([namespace])
    kube_control_plane.apply(spotwatch("optin", namespace, instanceTypes=["t3.micro"],
                                       regions=["us-east-1", "ap-east-1"]))
    body = wait_status(kube, namespace, "optin", lambda s: bool(s.get("regions")))
    assert body["status"]["regions"]["ap-east-1"]["state"] == "not_enabled"
    degraded = next(c for c in body["status"]["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "RegionsNotEnabled")
    warnings = [(r, m) for t, r, m in events(kube, namespace, "optin") if t == "Warning"]
    assert any(r == "RegionNotEnabled" and "ap-east-1" in m for r, m in warnings), warnings


def test_children_live_in_their_spotwatch_namespace(
    kube_control_plane: ControlPlane, kube: Kube, run_operator: RunOperator,
    namespace: str, make_namespace: Callable[[], str],
) -> None:
    other = make_namespace()
    run_operator([namespace, other])
    for ns in (namespace, other):
        kube_control_plane.apply(spotwatch("fleet", ns, instanceTypes=["t3.micro"],
                                           regions=FIVE[:3], regionsPerShard=1))
    for ns in (namespace, other):
        uid = kube.get_watch(ns, "fleet")["metadata"]["uid"]  # type: ignore[index]
        live = wait_for(lambda ns=ns: len(fetchers(kube, ns, "fleet")) == 3
                        and fetchers(kube, ns, "fleet"), what=f"fetchers in {ns}")
        for deployment in live.values():
            assert deployment["metadata"]["namespace"] == ns
            assert deployment["metadata"]["ownerReferences"][0]["uid"] == uid


def test_handlers_do_not_rerun_when_the_status_is_rewritten(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    operator = run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"],
                                       regions=FIVE, regionsPerShard=2))
    wait_status(kube, namespace, "fleet", lambda s: s.get("shardsReady") == "0/3")
    # Several resyncs (every 2 s) rewrite the status; a lost status would re-trigger kopf.
    kube.patch_watch_status(namespace, "fleet", {"message": "touched by a test"})
    wait_for(lambda: (kube.get_watch(namespace, "fleet") or {}).get("status", {}).get(
        "message") != "touched by a test", timeout=15, what="a resync to rewrite the status")
    time.sleep(5)
    assert operator.count("reconciled (create)") == 1
    assert operator.count("reconciled (update)") == 0
    assert operator.count("Handler 'reconcile' succeeded") == 1
    body = kube.get_watch(namespace, "fleet")
    assert body is not None and body["status"]["shardsReady"] == "0/3"


def test_no_finalizer_so_deletion_needs_no_operator(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    """There are no delete-time steps: children go by ownerReferences, and the SpotWatch
    carries no finalizer, so it is deleted at once even with the operator stopped."""
    operator = run_operator([namespace])
    kube_control_plane.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"],
                                       regions=FIVE, regionsPerShard=2))
    live = wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3
                    and fetchers(kube, namespace, "fleet"), what="three fetchers")
    body = kube.get_watch(namespace, "fleet")
    assert body is not None and not body["metadata"].get("finalizers")
    operator.stop()

    kube_control_plane.kubectl("delete", "sw", "fleet", "-n", namespace, "--timeout=10s")
    assert kube.get_watch(namespace, "fleet") is None
    for deployment in live.values():  # what the garbage collector acts on
        assert deployment["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]
