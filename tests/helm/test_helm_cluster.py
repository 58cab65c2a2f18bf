"""The chart against the real kube-apiserver with the real helm: validation, install, Pod Security,
upgrade, uninstall, the CRD upgrade path, and the operator running with exactly the chart's RBAC.

There is no kubelet or controller-manager: objects are stored and admitted, nothing runs them.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
import requests
import yaml
from helmlib import (
    CHART,
    CI_FILES,
    MONITORING_CRDS,
    PREVIOUS_CHART,
    Helm,
    ci_id,
    parse_manifest,
    strip_source,
)

from support.controlplane import REPO_ROOT, ControlPlane

pytestmark = [pytest.mark.helm, pytest.mark.k8s]

CRD_NAME = "spotwatches.spotter.dev"
DOCUMENTED_CRD_UPGRADE = "kubectl apply --server-side --force-conflicts -f charts/spotter/crds/"
NAMESPACED_KINDS = ("deployments,statefulsets,services,serviceaccounts,secrets,roles,"
                    "rolebindings,networkpolicies,ingresses,poddisruptionbudgets,"
                    "horizontalpodautoscalers,persistentvolumeclaims,configmaps,"
                    "spotwatches,servicemonitors,podmonitors,prometheusrules")
CLUSTER_KINDS = "clusterroles,clusterrolebindings"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def apply_crds(cp: ControlPlane) -> None:
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f",
               str(REPO_ROOT / "charts" / "spotter" / "crds"))
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(MONITORING_CRDS))
    names = [CRD_NAME, "servicemonitors.monitoring.coreos.com",
             "podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"]
    cp.kubectl("wait", "--for=condition=Established", "--timeout=60s",
               *[f"crd/{n}" for n in names])


@pytest.fixture(scope="module")
def cluster(kube_control_plane: ControlPlane) -> ControlPlane:
    """The control plane with the SpotWatch CRD and the monitoring test CRDs installed."""
    apply_crds(kube_control_plane)
    return kube_control_plane


@pytest.fixture
def namespace(cluster: ControlPlane) -> str:
    ns = unique("chart")
    cluster.create_namespace(ns)
    return ns


def manifest(cp: ControlPlane, release: str, ns: str) -> list[dict[str, Any]]:
    return parse_manifest(cp.helm("get", "manifest", release, "-n", ns).stdout)


def get_json(cp: ControlPlane, *args: str) -> dict[str, Any]:
    return json.loads(cp.kubectl("get", *args, "-o", "json").stdout)


def secret_value(cp: ControlPlane, ns: str, name: str, key: str) -> str:
    data = get_json(cp, "secret", name, "-n", ns)["data"]
    return base64.b64decode(data[key]).decode()


# --- validation by the API server ---------------------------------------------------------------


@pytest.mark.parametrize("values", [None, *CI_FILES], ids=ci_id)
def test_template_of_each_ci_file_is_valid_for_the_api_server(
    cluster: ControlPlane, helm: Helm, namespace: str, values: Path | None,
):
    docs = helm.render(values=[values] if values else [], namespace=namespace)
    assert docs
    proc = cluster.kubectl("apply", "--dry-run=server", "--validate=strict", "-n", namespace,
                           "-f", "-", input=strip_source(docs), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    assert len(re.findall(r"\(server dry run\)", proc.stdout)) == len(docs)


def test_a_field_the_api_server_does_not_know_is_refused(
    cluster: ControlPlane, helm: Helm, namespace: str,
):
    """The validation above has teeth: strict field validation refuses a misplaced field."""
    docs = helm.render(namespace=namespace)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    proc = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                           input=strip_source([dep]), check=False)
    assert proc.returncode != 0 and "readinessProbes" in proc.stderr


# --- install ---------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, *CI_FILES], ids=ci_id)
def test_helm_install_creates_every_object(
    cluster: ControlPlane, namespace: str, values: Path | None,
):
    release = unique("sp")
    args = ["install", release, str(CHART), "-n", namespace]
    if values:
        args += ["-f", str(values)]
    cluster.helm(*args)
    docs = manifest(cluster, release, namespace)
    assert docs
    for d in docs:
        ns_args = ["-n", namespace] if d["kind"] not in ("ClusterRole",
                                                         "ClusterRoleBinding") else []
        got = get_json(cluster, d["kind"].lower() + "." + _group(d), d["metadata"]["name"],
                       *ns_args)
        assert got["metadata"]["labels"]["app.kubernetes.io/instance"] == release
    status = json.loads(cluster.helm("status", release, "-n", namespace, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"


def _group(d: dict[str, Any]) -> str:
    api = d["apiVersion"]
    return api.split("/")[0] if "/" in api else ""


def test_redis_password_is_generated_once_and_kept_across_upgrades(
    cluster: ControlPlane, namespace: str,
):
    release = unique("sp")
    cluster.helm("install", release, str(CHART), "-n", namespace)
    secret = f"{release}-spotter-redis"
    first = secret_value(cluster, namespace, secret, "redis-password")
    assert len(first) == 32
    cluster.helm("upgrade", release, str(CHART), "-n", namespace, "--set", "api.replicaCount=3")
    assert secret_value(cluster, namespace, secret, "redis-password") == first


# --- Pod Security ---------------------------------------------------------------------------


def pod_from_template(workload: dict[str, Any], ns: str, name: str) -> dict[str, Any]:
    """The Pod its controller would create (a StatefulSet's claims become PVC volumes)."""
    template = workload["spec"]["template"]
    spec = json.loads(json.dumps(template["spec"]))
    for claim in workload["spec"].get("volumeClaimTemplates", []):
        claim_name = f"{claim['metadata']['name']}-{workload['metadata']['name']}-0"
        spec.setdefault("volumes", []).append({
            "name": claim["metadata"]["name"],
            "persistentVolumeClaim": {"claimName": claim_name}})
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns,
                     "labels": template.get("metadata", {}).get("labels", {})},
        "spec": spec,
    }


def fetcher_deployment_from_chart(operator: dict[str, Any], ns: str) -> dict[str, Any]:
    """The fetcher Deployment the operator would create, from the chart's operator env."""
    from spotter.operator.config import OperatorConfig
    from spotter.operator.manifests import fetcher_deployment
    from spotter.operator.planning import plan_shards
    from spotter.operator.watch import Watch

    env = {e["name"]: e["value"] for e in
           operator["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
    config = OperatorConfig.from_env(env)
    watch = Watch.from_body({
        "apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch",
        "metadata": {"name": "psa", "namespace": ns, "uid": str(uuid.uuid4())},
        "spec": {"instanceTypes": ["t3.micro"], "regions": ["us-east-1"], "interval": "5m",
                 "products": ["Linux/UNIX"], "regionsPerShard": 4},
    })
    shard = plan_shards(watch.regions, watch.regions_per_shard)[0]
    return fetcher_deployment(watch, shard, config)


def test_restricted_namespace_admits_every_pod_template(cluster: ControlPlane, helm: Helm):
    ns = unique("restricted")
    cluster.create_namespace(ns, labels={
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
    })
    release = unique("sp")
    everything = [CHART / "ci" / n for n in ("persistence-values.yaml",
                                             "networkpolicy-values.yaml", "replay-values.yaml")]
    args = ["install", release, str(CHART), "-n", ns]
    for v in everything:
        args += ["-f", str(v)]
    proc = cluster.helm(*args)
    assert "violate PodSecurity" not in proc.stderr, proc.stderr

    workloads = [d for d in manifest(cluster, release, ns)
                 if d["kind"] in ("Deployment", "StatefulSet")]
    assert {d["metadata"]["name"].rsplit("-", 1)[1] for d in workloads} == {
        "api", "operator", "redis", "replay"}
    operator = next(d for d in workloads if d["metadata"]["name"].endswith("-operator"))
    workloads.append(fetcher_deployment_from_chart(operator, ns))

    # Workload objects only get warnings; pods are what `enforce` refuses. Both are checked.
    proc = cluster.kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-",
                           input=strip_source(workloads))
    assert "violate PodSecurity" not in proc.stderr, proc.stderr
    for w in workloads:
        pod = pod_from_template(w, ns, f"{w['metadata']['name']}-probe")
        proc = cluster.kubectl("create", "--dry-run=server", "-f", "-",
                               input=yaml.safe_dump(pod), check=False)
        assert proc.returncode == 0, f"{w['metadata']['name']}: {proc.stderr}"

    # ... and the namespace does refuse what breaks the standard.
    base = pod_from_template(workloads[0], ns, "privileged")
    base["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    proc = cluster.kubectl("create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(base),
                           check=False)
    assert proc.returncode != 0 and "violates PodSecurity" in proc.stderr, proc.stderr
    root = pod_from_template(workloads[0], ns, "as-root")
    root["spec"]["securityContext"] = {"runAsUser": 0}
    proc = cluster.kubectl("create", "--dry-run=server", "-f", "-", input=yaml.safe_dump(root),
                           check=False)
    assert proc.returncode != 0 and "violates PodSecurity" in proc.stderr, proc.stderr


# --- upgrade and uninstall ------------------------------------------------------------------


def selectors(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"{d['kind']}/{d['metadata']['name']}": d["spec"]["selector"]
            for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Service")}


def test_upgrade_from_the_previous_chart_version(cluster: ControlPlane, namespace: str):
    assert PREVIOUS_CHART.exists()
    release = unique("sp")
    persistence = str(CHART / "ci" / "persistence-values.yaml")
    # The CRD is managed outside the release (kubectl apply --server-side, as docs/helm.md says);
    # helm 4 server-side-applies crds/ on install and would conflict with the newer live CRD.
    cluster.helm("install", release, str(PREVIOUS_CHART), "-n", namespace, "-f", persistence,
                 "--skip-crds")
    before = manifest(cluster, release, namespace)
    assert {d["metadata"]["labels"]["helm.sh/chart"] for d in before} == {"spotter-0.1.0"}
    password = secret_value(cluster, namespace, f"{release}-spotter-redis", "redis-password")

    cluster.helm("upgrade", release, str(CHART), "-n", namespace, "-f", persistence)
    after = manifest(cluster, release, namespace)
    version = yaml.safe_load((CHART / "Chart.yaml").read_text())["version"]
    assert version != "0.1.0"
    live = get_json(cluster, "deployment", f"{release}-spotter-api", "-n", namespace)
    assert live["metadata"]["labels"]["helm.sh/chart"] == f"spotter-{version}"
    assert selectors(after) == selectors(before)
    assert secret_value(cluster, namespace, f"{release}-spotter-redis",
                        "redis-password") == password
    history = json.loads(cluster.helm("history", release, "-n", namespace, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "deployed"]


def test_upgrade_with_changed_labels_keeps_selectors(cluster: ControlPlane, namespace: str):
    release = unique("sp")
    persistence = str(CHART / "ci" / "persistence-values.yaml")
    cluster.helm("install", release, str(CHART), "-n", namespace, "-f", persistence)
    before = manifest(cluster, release, namespace)
    cluster.helm("upgrade", release, str(CHART), "-n", namespace, "-f", persistence,
                 "--set", "commonLabels.team=spot", "--set", "commonLabels.tier=backend",
                 "--set", "api.podLabels.canary=yes", "--set", "redis.podLabels.disk=ssd",
                 "--set", "operator.podLabels.role=control")
    after = manifest(cluster, release, namespace)
    assert selectors(after) == selectors(before)
    sts = get_json(cluster, "statefulset", f"{release}-spotter-redis", "-n", namespace)
    assert sts["metadata"]["labels"]["team"] == "spot"
    assert sts["spec"]["template"]["metadata"]["labels"]["disk"] == "ssd"
    api = get_json(cluster, "deployment", f"{release}-spotter-api", "-n", namespace)
    assert api["spec"]["template"]["metadata"]["labels"]["canary"] == "yes"


def test_uninstall_leaves_nothing_behind_or_hanging(cluster: ControlPlane, namespace: str):
    release = unique("sp")
    args = ["install", release, str(CHART), "-n", namespace]
    for f in CI_FILES:
        if f.stem not in ("namespaced-values", "external-redis-values"):
            args += ["-f", str(f)]
    cluster.helm(*args)
    docs = manifest(cluster, release, namespace)
    kinds = {d["kind"] for d in docs}
    assert {"SpotWatch", "ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Ingress",
            "StatefulSet", "ClusterRole"} <= kinds
    cluster.helm("uninstall", release, "-n", namespace, "--timeout", "60s")

    selector = f"app.kubernetes.io/instance={release}"
    deadline = time.monotonic() + 30
    while True:
        left = get_json(cluster, NAMESPACED_KINDS, "-n", namespace, "-l", selector)["items"]
        left += get_json(cluster, CLUSTER_KINDS, "-l", selector)["items"]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not left, [f"{o['kind']}/{o['metadata']['name']}" for o in left]
    everything = get_json(cluster, NAMESPACED_KINDS, "-n", namespace)["items"]
    hanging = [o for o in everything if o["metadata"].get("deletionTimestamp")]
    assert not hanging
    assert not json.loads(cluster.helm("list", "-n", namespace, "-o", "json").stdout)


# --- the CRD upgrade path -------------------------------------------------------------------


def test_documented_crd_upgrade_applies_a_new_crd_to_an_installed_release(
    cluster: ControlPlane, namespace: str,
):
    docs = (REPO_ROOT / "docs" / "helm.md").read_text()
    assert DOCUMENTED_CRD_UPGRADE in docs

    # An "older" CRD: the current one without spec.paused and one printer column.
    crd = yaml.safe_load((REPO_ROOT / "crds" / f"{CRD_NAME}.yaml").read_text())
    version = crd["spec"]["versions"][0]
    del version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["paused"]
    version["additionalPrinterColumns"] = version["additionalPrinterColumns"][:-1]
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                    input=yaml.safe_dump(crd))
    try:
        release = unique("sp")
        # the live CRD differs from crds/ and belongs to kubectl: helm must leave it alone
        proc = cluster.helm("install", release, str(CHART), "-n", namespace, check=False)
        assert proc.returncode != 0 and "conflict" in proc.stderr
        cluster.helm("install", release, str(CHART), "-n", namespace, "--skip-crds")
        watch = {"apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch",
                 "metadata": {"name": "before", "namespace": namespace},
                 "spec": {"instanceTypes": ["t3.micro"], "regions": ["us-east-1"]}}
        cluster.apply(watch)
        paused = {**watch, "metadata": {"name": "paused", "namespace": namespace},
                  "spec": {**watch["spec"], "paused": True}}
        proc = cluster.kubectl("apply", "--validate=strict", "-f", "-",
                               input=yaml.safe_dump(paused), check=False)
        assert proc.returncode != 0 and "paused" in proc.stderr  # the old CRD lacks it

        # The documented step, run from the repository root as the docs say.
        argv = DOCUMENTED_CRD_UPGRADE.split()
        assert argv[0] == "kubectl"
        subprocess.run([str(cluster.testbin.kubectl), "--kubeconfig", str(cluster.kubeconfig),
                        *argv[1:]], cwd=REPO_ROOT, check=True, capture_output=True, text=True,
                       timeout=60)
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}",
                        "--timeout=60s")
        live = get_json(cluster, "crd", CRD_NAME)
        props = live["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert "paused" in props["properties"]
        cluster.apply(paused)  # accepted now
        assert get_json(cluster, "spotwatch", "before", "-n", namespace)["spec"][
            "instanceTypes"] == ["t3.micro"]  # existing objects survive
        cluster.helm("upgrade", release, str(CHART), "-n", namespace, "--set",
                     "api.replicaCount=1")
    finally:
        apply_crds(cluster)


# --- the operator under the chart's ServiceAccount and RBAC ---------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def resolved_env(cp: ControlPlane, ns: str, container: dict[str, Any]) -> dict[str, str]:
    """A container's environment with secretKeyRefs and envFrom secrets read from the cluster."""
    env: dict[str, str] = {}
    for ref in container.get("envFrom", []):
        name = ref["secretRef"]["name"]
        for k, v in get_json(cp, "secret", name, "-n", ns).get("data", {}).items():
            env[k] = base64.b64decode(v).decode()
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secret_value(cp, ns, ref["name"], ref["key"])
    return env


def executable(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    assert found, f"{name} is not installed"
    return found


class OperatorProcess:
    """The chart's operator container run as a local process (same command, args and env)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, liveness: str) -> None:
        self.log = log
        self.liveness = liveness
        with log.open("wb") as out:
            self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def run_operator(
    cluster: ControlPlane, redis_server: Any, tmp_path: Path,
) -> Iterator[Any]:
    started: list[OperatorProcess] = []

    def start(release: str, ns: str, extra_env: dict[str, str] | None = None) -> OperatorProcess:
        dep = get_json(cluster, "deployment", f"{release}-spotter-operator", "-n", ns)
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        env = resolved_env(cluster, ns, c)
        # Pods cannot run here: the process runs on this machine, so Redis is the test Redis.
        env.update({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
                    "REDIS_PASSWORD": redis_server.password or ""})
        env.update(extra_env or {})
        port = free_port()
        args = [re.sub(r"^--liveness=http://0\.0\.0\.0:\d+/",
                       f"--liveness=http://127.0.0.1:{port}/", a) for a in c["args"]]
        kubeconfig = cluster.service_account_kubeconfig(ns, pod["serviceAccountName"],
                                                        create=False)
        proc_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SPOTTER_",
                                                                             "REDIS_"))}
        proc_env.update(env)
        proc_env["KUBECONFIG"] = str(kubeconfig)
        argv = [executable(c["command"][0]), *c["command"][1:], *args]
        op = OperatorProcess(argv, proc_env, tmp_path / f"operator-{len(started)}.log",
                             f"http://127.0.0.1:{port}/healthz")
        started.append(op)
        return op

    yield start
    for op in started:
        op.stop()


def wait_for(what: str, probe: Any, op: OperatorProcess, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if op.proc.poll() is not None:
            pytest.fail(f"the operator exited ({op.proc.returncode}) waiting for {what}:\n"
                        f"{op.text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; operator log:\n{op.text()[-4000:]}")
        time.sleep(0.5)


@pytest.mark.parametrize("scope", ["namespace", "cluster"])
def test_operator_does_its_job_as_the_chart_service_account_with_the_chart_rbac(
    cluster: ControlPlane, namespace: str, run_operator: Any, scope: str,
):
    release = unique("sp")
    fetcher_image = "registry.example/spotter-operator:test"
    cluster.helm("install", release, str(CHART), "-n", namespace,
                 "--set", f"operator.scope={scope}",
                 "--set", "fetcher.image.repository=registry.example/spotter-operator",
                 "--set", "fetcher.image.tag=test",
                 "--set", "fetcher.resources.requests.cpu=25m")
    # cluster scope: the SpotWatch lives in another namespace than the release
    watch_ns = namespace
    if scope == "cluster":
        watch_ns = unique("team")
        cluster.create_namespace(watch_ns)
    op = run_operator(release, namespace)
    wait_for("the liveness endpoint", lambda: _healthy(op.liveness), op)

    cluster.apply({
        "apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch",
        "metadata": {"name": "chart-rbac", "namespace": watch_ns},
        "spec": {"instanceTypes": ["t3.micro", "m5.large"],
                 "regions": ["us-east-1", "eu-west-1", "ap-south-1"], "regionsPerShard": 2,
                 "interval": "5m"},
    })

    def fetchers() -> list[dict[str, Any]]:
        items = get_json(cluster, "deployments", "-n", watch_ns, "-l",
                         "spotter.dev/watch=chart-rbac")["items"]
        return items if len(items) == 2 else []

    deployments = wait_for("two fetcher Deployments", fetchers, op)
    for dep in deployments:
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["image"] == fetcher_image
        assert c["command"][:2] == ["spotter", "fetch"]
        assert pod["serviceAccountName"] == f"{release}-spotter-fetcher"
        assert c["resources"]["requests"]["cpu"] == "25m"
        assert pod["securityContext"]["runAsUser"] == 10001
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        env = {e["name"]: e for e in c["env"]}
        assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == \
            f"{release}-spotter-redis"
        assert dep["metadata"]["ownerReferences"][0]["kind"] == "SpotWatch"

    def status() -> dict[str, Any]:
        sw = get_json(cluster, "spotwatch", "chart-rbac", "-n", watch_ns)
        st = sw.get("status") or {}
        return st if st.get("shards") else {}

    st = wait_for("the SpotWatch status", status, op)
    assert len(st["shards"]) == 2
    log = op.text()
    assert "Forbidden" not in log and " 403" not in log, log[-4000:]


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


# --- demo mode: the replay endpoint -------------------------------------------------------------

#: No AWS credentials but the ones the chart hands out: no shared files, no instance metadata.
NO_AMBIENT_AWS = {"AWS_CONFIG_FILE": "/nonexistent/aws-config",
                  "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
                  "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def local_replay(tmp_path: Path) -> Iterator[str]:
    """`spotter replay` started on this machine (pods cannot run here); yields its URL."""
    port = free_port()
    log = tmp_path / "replay.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([executable("spotter"), "replay", "--host", "127.0.0.1",
                                 "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(f"{url}/__replay__/health"):
            assert proc.poll() is None, f"spotter replay exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"spotter replay is not healthy:\n{log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def replay_calls(url: str, after: int = 0) -> list[dict[str, Any]]:
    calls = requests.get(f"{url}/__replay__/calls", timeout=5).json()["calls"]
    return [c for c in calls if c["seq"] > after]


def test_replay_mode_runs_the_operator_and_fetchers_against_the_replay_endpoint(
    cluster: ControlPlane, namespace: str, run_operator: Any, local_replay: str,
    redis_server: Any,
):
    """The zero-AWS demo: the chart deploys the endpoint and wires everything to it with
    placeholder keys; the operator discovers regions through it, and a fetcher built by the
    operator fetches through it (no NoCredentials: the keys come from the chart's Secret)."""
    from spotter.aws.regions import enabled, list_regions

    release = unique("sp")
    cluster.helm("install", release, str(CHART), "-n", namespace,
                 "-f", str(CHART / "ci" / "replay-values.yaml"))
    name, keys = f"{release}-spotter-replay", f"{release}-spotter-replay-keys"

    # What the chart stored: the endpoint's Deployment and Service, the keys, the operator's env.
    replay = get_json(cluster, "deployment", name, "-n", namespace)
    (rc,) = replay["spec"]["template"]["spec"]["containers"]
    operator = get_json(cluster, "deployment", f"{release}-spotter-operator", "-n", namespace)
    (oc,) = operator["spec"]["template"]["spec"]["containers"]
    assert rc["command"] == ["spotter", "replay"]
    assert rc["args"] == ["--host", "0.0.0.0", "--port", "8773"]
    assert rc["image"] == oc["image"]
    svc = get_json(cluster, "service", name, "-n", namespace)
    assert svc["spec"]["selector"].items() <= \
        replay["spec"]["template"]["metadata"]["labels"].items()
    assert [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(8773, "replay")]
    probe = rc["readinessProbe"]["httpGet"]
    assert probe["port"] == "replay"
    assert requests.get(local_replay + probe["path"], timeout=5).status_code == 200
    op_env = {e["name"]: e.get("value") for e in oc["env"]}
    assert op_env["SPOTTER_AWS_ENDPOINT_URL"] == f"http://{name}.{namespace}.svc:8773"
    assert op_env["SPOTTER_SOURCE"] == "replay"
    assert op_env["SPOTTER_AWS_SECRET_NAME"] == keys
    assert oc["envFrom"] == [{"secretRef": {"name": keys}}]
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert secret_value(cluster, namespace, keys, key) == "replay-placeholder"

    # The operator as the chart runs it; the Service URL becomes the local endpoint (no cluster
    # DNS here), everything else (keys from the Secret included) is the chart's.
    op = run_operator(release, namespace,
                      {"SPOTTER_AWS_ENDPOINT_URL": local_replay, **NO_AMBIENT_AWS})
    wait_for("the liveness endpoint", lambda: _healthy(op.liveness), op)
    cluster.apply({
        "apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch",
        "metadata": {"name": "demo", "namespace": namespace},
        # no regions: every region the endpoint says is enabled (DescribeRegions)
        "spec": {"instanceTypes": ["t3.micro", "m5.large"], "regionsPerShard": 6,
                 "interval": "5m"},
    })

    def status() -> dict[str, Any]:
        st = get_json(cluster, "spotwatch", "demo", "-n", namespace).get("status") or {}
        return st if st.get("shards") else {}

    st = wait_for("the SpotWatch status", status, op)
    discovery = [c for c in replay_calls(local_replay) if c["action"] == "DescribeRegions"]
    assert discovery and {(c["region"], c["status"]) for c in discovery} == {
        (op_env["AWS_REGION"], 200)}
    last_seq = max(c["seq"] for c in replay_calls(local_replay))
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=local_replay,
                       aws_access_key_id="replay-placeholder",
                       aws_secret_access_key="replay-placeholder")
    regions = enabled(list_regions(ec2))
    assert len(regions) > 6

    deployments = sorted(get_json(cluster, "deployments", "-n", namespace, "-l",
                                  "spotter.dev/watch=demo")["items"],
                         key=lambda d: d["metadata"]["name"])
    assert len(deployments) == len(st["shards"]) == -(-len(regions) // 6)
    planned: list[str] = []
    for dep in deployments:
        (fc,) = dep["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in fc["env"]}
        assert env["SPOTTER_AWS_ENDPOINT_URL"] == local_replay  # the Service URL in a cluster
        assert env["SPOTTER_SOURCE"] == "replay"
        assert fc["envFrom"] == [{"secretRef": {"name": keys}}]
        planned += dep["metadata"]["annotations"]["spotter.dev/regions"].split(",")
    assert sorted(planned) == regions

    # One cycle of the first fetcher, with its command and env (the Secret's keys resolved).
    (fc,) = deployments[0]["spec"]["template"]["spec"]["containers"]
    env = resolved_env(cluster, namespace, fc)
    assert env["AWS_ACCESS_KEY_ID"] == "replay-placeholder"
    prefix = f"helmreplay{uuid.uuid4().hex[:8]}"
    env.update({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(redis_server.port),
                "REDIS_PASSWORD": redis_server.password or "", "SPOTTER_REDIS_PREFIX": prefix,
                "SPOTTER_FETCHER_METRICS_PORT": "0", **NO_AMBIENT_AWS})
    proc_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("AWS_", "SPOTTER_", "REDIS_"))}
    proc_env.update(env)
    proc = subprocess.run([executable(fc["command"][0]), *fc["command"][1:], "--once"],
                          env=proc_env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "NoCredentials" not in proc.stdout + proc.stderr
    shard = deployments[0]["metadata"]["annotations"]["spotter.dev/regions"].split(",")
    fetched = {c["region"] for c in replay_calls(local_replay, last_seq)
               if c["action"] == "DescribeSpotPriceHistory" and c["status"] == 200}
    assert fetched == set(shard)
    stored = redis.Redis.from_url(redis_server.url).keys(f"{prefix}*")
    assert stored, "the fetcher stored nothing"
