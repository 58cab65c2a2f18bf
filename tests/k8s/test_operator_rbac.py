"""The operator under a ServiceAccount bound to the shipped RBAC, and without parts of it."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from test_operator_support import (
    OperatorProcess,
    container,
    fetchers,
    grant,
    shipped_rules,
    spotwatch,
    wait_for,
)

from spotter.operator.kube import Kube
from support.controlplane import ControlPlane

pytestmark = pytest.mark.k8s

RunOperator = Callable[..., OperatorProcess]
REGIONS = ["us-east-1", "eu-west-1", "ap-northeast-1"]


def without(verb: str, group: str, resource: str) -> list[dict[str, Any]]:
    """The shipped rules minus one verb on one resource."""
    rules = copy.deepcopy(shipped_rules())
    for rule in rules:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    return [r for r in rules if r["verbs"]]


def whole_job(cp: ControlPlane, kube: Kube, namespace: str) -> None:
    """Create, repair, update and prune: everything the operator does to one SpotWatch."""
    cp.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"], regions=REGIONS,
                       regionsPerShard=1))
    wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 3, what="three fetchers")
    cp.kubectl("delete", "deployment", "fleet-fetcher-1", "-n", namespace)
    wait_for(lambda: "fleet-fetcher-1" in fetchers(kube, namespace, "fleet"),
             what="the deleted fetcher to come back")
    cp.kubectl("patch", "sw", "fleet", "-n", namespace, "--type=merge",
               "-p", '{"spec": {"regionsPerShard": 2, "instanceTypes": ["m5.large"]}}')
    wait_for(lambda: sorted(fetchers(kube, namespace, "fleet")) == [
        "fleet-fetcher-0", "fleet-fetcher-1"], what="the pruned shard")
    wait_for(lambda: all("m5.large" in container(d)["command"]
                         for d in fetchers(kube, namespace, "fleet").values()),
             what="the new types")

    def status_written() -> bool:
        status = (kube.get_watch(namespace, "fleet") or {}).get("status") or {}
        return status.get("shardsReady") == "0/2" and status.get("observedGeneration") == 2

    wait_for(status_written, what="the status")
    response = kube.core.list_namespaced_event(namespace, _preload_content=False)
    reasons = {e["reason"] for e in json.loads(response.data)["items"]}
    assert {"ShardsPlanned", "ShardsChanged", "FetcherRestored"} <= reasons


def test_namespaced_operator_under_the_shipped_role_does_its_whole_job(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    kubeconfig = grant(kube_control_plane, namespace, shipped_rules())
    # the chart's command line: no --standalone (the operator turns peering off itself)
    operator = run_operator([namespace], kubeconfig=kubeconfig, standalone=False)
    whole_job(kube_control_plane, kube, namespace)
    output = operator.output()
    assert "403" not in output and "Forbidden" not in output, output


def test_cluster_wide_operator_under_the_shipped_cluster_role_does_its_whole_job(
    kube_control_plane: ControlPlane, make_namespace: Callable[[], str], kube: Kube,
    run_operator: RunOperator,
) -> None:
    home, other = make_namespace(), make_namespace()
    kubeconfig = grant(kube_control_plane, home, shipped_rules(), cluster=True)
    operator = run_operator(None, kubeconfig=kubeconfig, standalone=False)
    whole_job(kube_control_plane, kube, other)
    output = operator.output()
    assert "403" not in output and "Forbidden" not in output, output


def test_a_verb_outside_the_shipped_rbac_is_refused(
    kube_control_plane: ControlPlane, namespace: str
) -> None:
    kubeconfig = grant(kube_control_plane, namespace, shipped_rules())
    cp = kube_control_plane
    for verb, resource in [("get", "secrets"), ("create", "pods"), ("delete", "spotwatches"),
                           ("update", "deployments"), ("list", "namespaces"),
                           ("list", "customresourcedefinitions")]:
        answer = cp.kubectl("auth", "can-i", verb, resource, "-n", namespace,
                            kubeconfig=kubeconfig, check=False)
        assert answer.stdout.strip() == "no", (verb, resource)
    refused = cp.kubectl("get", "secrets", "-n", namespace, kubeconfig=kubeconfig, check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower()


@pytest.mark.parametrize(
    ("verb", "group", "resource", "named"),
    [
        ("delete", "apps", "deployments", "delete deployments.apps"),
        ("create", "apps", "deployments", "create deployments.apps"),
        ("watch", "spotter.dev", "spotwatches", "watch spotwatches.spotter.dev"),
        ("patch", "spotter.dev", "spotwatches/status", "patch spotwatches.spotter.dev/status"),
        ("create", "", "events", "create events"),
    ],
)
def test_a_missing_permission_fails_fast_naming_verb_and_resource(
    kube_control_plane: ControlPlane, namespace: str, run_operator: RunOperator,
    verb: str, group: str, resource: str, named: str,
) -> None:
    kubeconfig = grant(kube_control_plane, namespace, without(verb, group, resource))
    operator = run_operator([namespace], kubeconfig=kubeconfig, wait=False)
    assert operator.wait_exit(60) != 0
    output = operator.output()
    assert f"{named} in namespace {namespace}" in output, output
    assert "lacks RBAC permissions" in output


def test_a_permission_revoked_at_runtime_is_reported_on_the_spotwatch(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    cp = kube_control_plane
    kubeconfig = grant(cp, namespace, shipped_rules())
    run_operator([namespace], kubeconfig=kubeconfig)
    grant(cp, namespace, without("create", "apps", "deployments"))  # revoked after start
    cp.apply(spotwatch("fleet", namespace, instanceTypes=["t3.micro"], regions=REGIONS))

    def failed() -> dict[str, Any] | None:
        status = (kube.get_watch(namespace, "fleet") or {}).get("status") or {}
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        return ready[0] if ready and ready[0]["reason"] == "ReconcileFailed" else None

    ready = wait_for(failed, what="ReconcileFailed on the SpotWatch")
    assert "permission denied" in ready["message"]
    assert 'cannot create resource "deployments"' in ready["message"], ready["message"]
    response = kube.core.list_namespaced_event(namespace, _preload_content=False)
    warnings = [e for e in json.loads(response.data)["items"] if e["reason"] == "PermissionDenied"]
    assert warnings and "deployments" in warnings[0]["message"]

    grant(cp, namespace, shipped_rules())  # fixed: the resync loop picks it up
    wait_for(lambda: len(fetchers(kube, namespace, "fleet")) == 1, timeout=30,
             what="the fetcher once the permission is back")
