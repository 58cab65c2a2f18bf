"""Fixtures for the operator's tests against the real API server.

- `spotwatch_crd` (session): the CRD from crds/ applied and Established.
- `namespace`: a fresh namespace (with its `default` ServiceAccount) per test.
- `kube`: spotter.operator.kube.Kube as the admin, for reading objects as plain dicts.
- `run_operator`: starts `kopf run -m spotter.operator --standalone ...` as a subprocess with a
  given kubeconfig and environment; every operator it started is stopped (by PID) after the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from test_operator_support import CRD_FILE, FETCHER_IMAGE, OperatorProcess, unique

from spotter.operator.kube import Kube
from spotter.replay.server import ReplayServer
from support.controlplane import ControlPlane, free_port

# Only what Python needs; nothing of the developer's environment (KUBECONFIG, REDIS_URL) leaks.
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


@pytest.fixture(scope="session")
def spotwatch_crd(kube_control_plane: ControlPlane) -> str:
    kube_control_plane.kubectl("apply", "-f", str(CRD_FILE))
    kube_control_plane.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                               "crd/spotwatches.spotter.dev")
    return "spotwatches.spotter.dev"


@pytest.fixture
def make_namespace(
    kube_control_plane: ControlPlane, spotwatch_crd: str
) -> Iterator[Callable[[], str]]:
    """Fresh namespaces; their SpotWatches are deleted afterwards (there is no namespace
    controller here to empty them, and a cluster-wide operator of a later test would see them)."""
    made: list[str] = []

    def make() -> str:
        name = unique("sw")
        kube_control_plane.create_namespace(name)
        made.append(name)
        return name

    yield make
    for name in made:
        kube_control_plane.kubectl("delete", "spotwatches", "--all", "-n", name,
                                   "--wait=false", check=False)


@pytest.fixture
def namespace(make_namespace: Callable[[], str]) -> str:
    return make_namespace()


@pytest.fixture(scope="session")
def kube(kube_control_plane: ControlPlane) -> Kube:
    return Kube(kube_control_plane.api_client())


@pytest.fixture
def operator_env(redis_url: str, replay_server: ReplayServer) -> dict[str, str]:
    """The operator's environment: test Redis, the replay endpoint, a fast resync."""
    return {
        "SPOTTER_FETCHER_IMAGE": FETCHER_IMAGE,
        "REDIS_URL": redis_url,
        "SPOTTER_AWS_ENDPOINT_URL": replay_server.url,
        "SPOTTER_SOURCE": "replay",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "SPOTTER_OPERATOR_RESYNC_INTERVAL": "2s",
    }


@pytest.fixture
def run_operator(
    kube_control_plane: ControlPlane, tmp_path: Path, operator_env: dict[str, str]
) -> Iterator[Callable[..., OperatorProcess]]:
    """`run_operator(namespaces=[ns] | None (all), kubeconfig=..., env={...}, wait=True,
    standalone=True)`; standalone=False runs the chart's exact command line."""
    started: list[OperatorProcess] = []

    def start(
        namespaces: list[str] | None = None,
        *,
        kubeconfig: Path | None = None,
        env: Mapping[str, str | None] | None = None,
        wait: bool = True,
        standalone: bool = True,
    ) -> OperatorProcess:
        port = free_port()
        scope = ["--all-namespaces"] if namespaces is None else [
            arg for ns in namespaces for arg in ("--namespace", ns)]
        argv = [sys.executable, "-m", "kopf", "run", "-m", "spotter.operator",
                *(["--standalone"] if standalone else []),
                f"--liveness=http://127.0.0.1:{port}/healthz", *scope]
        full_env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        full_env.update(operator_env)
        full_env["KUBECONFIG"] = str(kubeconfig or kube_control_plane.kubeconfig)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        log = tmp_path / f"operator-{len(started)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=full_env,
                                     cwd=tmp_path, stdin=subprocess.DEVNULL)
        process = OperatorProcess(popen, log, f"http://127.0.0.1:{port}/healthz")
        started.append(process)
        return process.wait_ready() if wait else process

    yield start
    for process in started:
        process.stop()


