"""Failure cases: a create that keeps failing, no CRD, bad configuration, liveness."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from test_operator_support import OperatorProcess, fetchers, spotwatch, wait_for

from spotter.operator.kube import Kube
from support.controlplane import ControlPlane, Testbin, free_port, start_control_plane

pytestmark = pytest.mark.k8s

RunOperator = Callable[..., OperatorProcess]


def test_create_failing_temporarily_then_deleted_is_gone_within_bounded_time(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: DescribeRegions always fails
    operator = run_operator([namespace], env={
        "SPOTTER_AWS_ENDPOINT_URL": dead, "AWS_MAX_ATTEMPTS": "1",
        "SPOTTER_AWS_CONNECT_TIMEOUT": "0.5s",
    })
    kube_control_plane.apply(spotwatch("doomed", namespace, instanceTypes=["t3.micro"]))
    key = f"[{namespace}/doomed]"
    wait_for(lambda: f"{key} Handler 'reconcile' failed temporarily" in operator.output(),
             what="the create handler to fail temporarily")
    time.sleep(1)

    started = time.monotonic()
    kube_control_plane.kubectl("delete", "sw", "doomed", "-n", namespace, "--timeout=15s")
    assert kube.get_watch(namespace, "doomed") is None
    assert time.monotonic() - started < 15

    # Nothing keeps trying: no handler retries, no resyncs for the deleted object.
    time.sleep(2)
    before = operator.output().count(f"{namespace}/doomed")
    time.sleep(8)  # four resync intervals and more than the handler's retry delay
    assert operator.output().count(f"{namespace}/doomed") == before, operator.output()
    assert operator.popen.poll() is None and operator.healthy()
    assert fetchers(kube, namespace, "doomed") == {}


def test_operator_without_the_crd_exits_naming_it(
    testbin: Testbin, tmp_path: Path, run_operator: RunOperator
) -> None:
    bare = start_control_plane(testbin, tmp_path / "bare")  # a cluster that never saw the CRD
    try:
        operator = run_operator(["default"], kubeconfig=bare.kubeconfig, wait=False)
        assert operator.wait_exit(60) != 0
        output = operator.output()
        assert "CustomResourceDefinition spotwatches.spotter.dev" in output, output
        assert "is not installed" in output
    finally:
        bare.stop()


@pytest.mark.parametrize(
    ("name", "value"),
    [("SPOTTER_FETCHER_IMAGE", ""), ("SPOTTER_FETCHER_RESOURCES", "{not json"),
     ("SPOTTER_FETCHER_IMAGE_PULL_POLICY", "Sometimes"), ("REDIS_PORT", "many")],
)
def test_a_bad_setting_stops_the_operator_naming_the_variable(
    namespace: str, run_operator: RunOperator, name: str, value: str
) -> None:
    env = {name: value}
    if name == "REDIS_PORT":
        env["REDIS_URL"] = ""
    operator = run_operator([namespace], env=env, wait=False)
    assert operator.wait_exit(60) != 0
    assert f"configuration error: {name}:" in operator.output(), operator.output()


def test_liveness_endpoint_reports_the_resync_loop(
    namespace: str, run_operator: RunOperator
) -> None:
    operator = run_operator([namespace])
    wait_for(lambda: "resyncAgeSeconds" in requests.get(operator.health_url, timeout=5).json(),
             what="the probe result")
    body = requests.get(operator.health_url, timeout=5).json()
    assert 0 <= body["resyncAgeSeconds"] < 60


def test_redis_unreachable_still_plans_fetchers_and_says_so_in_the_status(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
) -> None:
    run_operator([namespace], env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                                   "SPOTTER_REDIS_TIMEOUT": "0.2s"})
    kube_control_plane.apply(spotwatch("blind", namespace, instanceTypes=["t3.micro"],
                                       regions=["us-east-1", "eu-west-1"]))

    def unknown() -> dict | None:
        status = (kube.get_watch(namespace, "blind") or {}).get("status") or {}
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        return status if ready and ready[0]["reason"] == "StoreUnavailable" else None

    status = wait_for(unknown, what="Ready=Unknown (StoreUnavailable)")
    assert status["regions"] == {"eu-west-1": {"state": "unknown"},
                                 "us-east-1": {"state": "unknown"}}
    assert len(fetchers(kube, namespace, "blind")) == 1
