"""Helpers shared by the operator's k8s tests (this module holds no tests of its own)."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import yaml

from spotter.operator.kube import Kube
from support.controlplane import ControlPlane

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "spotwatches.spotter.dev.yaml"
RBAC_FILE = REPO / "charts" / "spotter" / "files" / "operator-rbac.yaml"
FETCHER_IMAGE = "ghcr.io/spotter-dev/spotter:test"

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T], *, timeout: float = 30, interval: float = 0.25, what: str = "it"
) -> T:
    """Call `probe` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def spotwatch(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


@dataclass
class OperatorProcess:
    """A running `kopf run -m spotter.operator`; `log` holds its stdout and stderr."""

    popen: subprocess.Popen[bytes]
    log: Path
    health_url: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def count(self, text: str) -> int:
        return self.output().count(text)

    def healthy(self) -> bool:
        try:
            return requests.get(self.health_url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 60) -> OperatorProcess:
        def ready() -> bool:
            if self.popen.poll() is not None:
                pytest.fail(f"the operator exited ({self.popen.returncode}):\n{self.output()}")
            return "spotter operator ready" in self.output() and self.healthy()

        wait_for(ready, timeout=timeout, what="the operator to start")
        return self

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the operator did not exit within {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


def shipped_rules() -> list[dict[str, Any]]:
    """The operator's RBAC rules as the chart ships them (framework + application)."""
    rbac = yaml.safe_load(RBAC_FILE.read_text())
    return [*rbac["framework"], *rbac["application"]]


def grant(
    cp: ControlPlane, namespace: str, rules: list[dict[str, Any]], *, cluster: bool = False
) -> Path:
    """A ServiceAccount `spotter-operator` in `namespace` bound to `rules`; its kubeconfig."""
    name = "spotter-operator"
    role_kind = "ClusterRole" if cluster else "Role"
    role_name = f"{namespace}-{name}" if cluster else name
    role_meta: dict[str, Any] = {"name": role_name}
    binding_meta: dict[str, Any] = {"name": role_name}
    if not cluster:
        role_meta["namespace"] = binding_meta["namespace"] = namespace
    cp.apply([
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": name, "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role_kind,
         "metadata": role_meta, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": f"{role_kind}Binding",
         "metadata": binding_meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                     "name": role_name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]},
    ])
    return cp.service_account_kubeconfig(namespace, name, create=False)


def fetchers(kube: Kube, namespace: str, watch: str) -> dict[str, dict[str, Any]]:
    """The fetcher Deployments of one SpotWatch, by name."""
    items = kube.list_deployments(namespace, f"spotter.dev/watch={watch}")
    return {d["metadata"]["name"]: d for d in items}


def container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def regions_of(deployments: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Deployment name -> the regions its command fetches."""
    out = {}
    for name, deployment in deployments.items():
        command = container(deployment)["command"]
        out[name] = command[command.index("--regions") + 1].split(",")
    return out
