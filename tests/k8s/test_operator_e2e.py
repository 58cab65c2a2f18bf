"""End to end: SpotWatch -> operator -> fetcher Deployments, run as processes -> Redis -> API.

Pods cannot run here (no kubelet), so each fetcher Deployment's container is started as a
local process with exactly its command and environment (env, secretKeyRef and envFrom resolved
from the API server), against the replay endpoint and a real Redis. Its "pod" being up is then
reported on the Deployment's status, as a kubelet and the Deployment controller would.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_operator_support import OperatorProcess, container, fetchers, spotwatch, wait_for

from spotter.operator.kube import Kube
from spotter.replay.server import ReplayServer
from support.apiserver import ApiServer
from support.controlplane import ControlPlane

pytestmark = pytest.mark.k8s

RunOperator = Callable[..., OperatorProcess]
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


def secret_data(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    response = kube.core.read_namespaced_secret(name, namespace, _preload_content=False)
    data = yaml.safe_load(response.data)["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def container_env(kube: Kube, namespace: str, deployment: Mapping[str, Any]) -> dict[str, str]:
    """The environment a kubelet would give the fetcher container."""
    spec = container(deployment)
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        env.update(secret_data(kube, namespace, source["secretRef"]["name"]))
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret_data(kube, namespace, ref["name"])[ref["key"]]
    return env


class Pods:
    """Fetcher processes standing in for the pods of fetcher Deployments."""

    def __init__(self, kube: Kube, workdir: Path) -> None:
        self.kube = kube
        self.workdir = workdir
        self.running: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}

    def start(self, namespace: str, deployment: Mapping[str, Any]) -> None:
        name = deployment["metadata"]["name"]
        env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        env.update(container_env(self.kube, namespace, deployment))
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(container(deployment)["command"], env=env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=self.workdir)
        self.running[name] = (process, log)
        # what the Deployment controller reports once the pod is ready
        meta = deployment["metadata"]
        self.kube.apps.patch_namespaced_deployment_status(
            name, namespace, {"status": {
                "observedGeneration": meta["generation"], "replicas": 1, "readyReplicas": 1,
                "availableReplicas": 1, "updatedReplicas": 1}},
            _content_type="application/merge-patch+json", _preload_content=False)

    def log(self, name: str) -> str:
        return self.running[name][1].read_text(errors="replace")

    def wait_cycle(self, name: str, timeout: float = 60) -> str:
        def done() -> str | None:
            process, _ = self.running[name]
            if process.poll() is not None:
                pytest.fail(f"fetcher {name} exited ({process.returncode}):\n{self.log(name)}")
            return next((line for line in self.log(name).splitlines() if "cycle 1:" in line),
                        None)

        return wait_for(done, timeout=timeout, what=f"the first cycle of {name}")

    def stop(self) -> None:
        for process, _ in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.running.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def pods(kube: Kube, tmp_path: Path) -> Iterator[Pods]:
    running = Pods(kube, tmp_path)
    yield running
    running.stop()


@pytest.fixture
def aws_secret(kube_control_plane: ControlPlane, namespace: str) -> str:
    kube_control_plane.apply({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "spotter-aws", "namespace": namespace},
        "stringData": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
    })
    return "spotter-aws"


def conditions(body: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"])
            for c in (body.get("status") or {}).get("conditions", [])}


def test_end_to_end_prices_served_and_status_fresh(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
    pods: Pods, aws_secret: str, redis_url: str, replay_server: ReplayServer,
    api_server: Callable[..., ApiServer],
) -> None:
    cp = kube_control_plane
    run_operator([namespace], env={"SPOTTER_AWS_SECRET_NAME": aws_secret})
    regions = ["us-east-1", "eu-west-1", "ap-northeast-1"]
    # types with recorded prices in all three regions of the bundled replay window
    cp.apply(spotwatch("prices", namespace, instanceTypes=["r5.large", "c5.2xlarge"],
                       regions=regions, regionsPerShard=2, interval="1m"))
    live = wait_for(lambda: len(fetchers(kube, namespace, "prices")) == 2
                    and fetchers(kube, namespace, "prices"), what="two fetchers")
    for deployment in live.values():
        env = container_env(kube, namespace, deployment)
        assert env["REDIS_URL"] == redis_url
        assert env["SPOTTER_AWS_ENDPOINT_URL"] == replay_server.url
        assert env["AWS_ACCESS_KEY_ID"] == "testing"  # from the Secret, through envFrom
        pods.start(namespace, deployment)
    for name in live:
        summary = pods.wait_cycle(name)
        assert "failed" not in summary and " ok)" in summary, summary

    def fresh() -> dict[str, Any] | None:
        body = kube.get_watch(namespace, "prices") or {}
        status = body.get("status") or {}
        states = {r: e.get("state") for r, e in (status.get("regions") or {}).items()}
        ok = states == dict.fromkeys(regions, "ok") and conditions(body).get("Ready") == (
            "True", "Fresh")
        return body if ok else None

    body = wait_for(fresh, timeout=30, what="fresh regions and Ready=True")
    status = body["status"]
    assert status["shardsReady"] == "2/2" and status["freshest"] and status["oldest"]
    assert all(e["quotes"] > 0 and e["ageSeconds"] < 60 for e in status["regions"].values())
    assert conditions(body)["Degraded"] == ("False", "AsExpected")

    api = api_server({"REDIS_URL": redis_url})
    for region in regions:
        for instance_type in ("r5.large", "c5.2xlarge"):
            answer = api.get(f"/spot-prices/{region}/{instance_type}")
            assert answer.status_code == 200, answer.text
            doc = answer.json()
            assert doc["source"] == "replay" and doc["region"] == region
            assert doc["prices"] and all(p > 0 for p in doc["prices"].values())
    best = api.get("/best-price/r5.large").json()
    assert best["region"] in regions and best["price"] > 0

    table = cp.kubectl("get", "sw", "prices", "-n", namespace).stdout.splitlines()
    row = dict(zip(table[0].split(), table[1].split(), strict=True))
    assert (row["TYPES"], row["REGIONS"], row["SHARDS"], row["READY"]) == ("2", "3", "2/2",
                                                                           "True")
    assert row["FRESHEST"] != "<none>" and row["OLDEST"] != "<none>" and row["AGE"]


def test_two_spotwatches_on_the_same_regions_and_types_share_the_aws_calls(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube, run_operator: RunOperator,
    pods: Pods, aws_secret: str, replay_server: ReplayServer,
) -> None:
    cp = kube_control_plane
    run_operator([namespace], env={"SPOTTER_AWS_SECRET_NAME": aws_secret})
    regions = ["us-east-1", "eu-west-1"]
    for name in ("first", "second"):
        cp.apply(spotwatch(name, namespace, instanceTypes=["r5.large", "c5.2xlarge"],
                           regions=regions, interval="1m"))
    first = wait_for(lambda: fetchers(kube, namespace, "first"), what="the first fetcher")
    second = wait_for(lambda: fetchers(kube, namespace, "second"), what="the second fetcher")

    def calls() -> dict[str, int]:
        return {r: replay_server.calls.count("DescribeSpotPriceHistory", r) for r in regions}

    (name_a, deployment_a), = first.items()
    pods.start(namespace, deployment_a)
    pods.wait_cycle(name_a)
    after_first = calls()
    assert all(n > 0 for n in after_first.values()), after_first

    (name_b, deployment_b), = second.items()
    pods.start(namespace, deployment_b)
    summary = pods.wait_cycle(name_b)
    assert "2 regions (2 skipped_fresh)" in summary, summary
    assert calls() == after_first, (summary, calls())
