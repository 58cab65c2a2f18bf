"""The test control plane itself: real kube-apiserver + etcd, real kubectl and helm."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from support.controlplane import ControlPlane, Testbin

pytestmark = pytest.mark.k8s


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_version_reports_the_stamped_release(kube_control_plane: ControlPlane, testbin: Testbin):
    assert testbin.kube_version.startswith("v1.")
    info = kube_control_plane.admin_session().get(
        f"{kube_control_plane.server}/version", timeout=10
    ).json()
    assert info["gitVersion"] == testbin.kube_version == kube_control_plane.version
    major, minor = testbin.kube_version.removeprefix("v").split(".")[:2]
    assert (info["major"], info["minor"]) == (major, minor)
    assert info["gitTreeState"] == "clean"

    out = kube_control_plane.kubectl("version", "-o", "json").stdout
    versions = json.loads(out)
    assert versions["clientVersion"]["gitVersion"] == testbin.kube_version
    assert versions["serverVersion"]["gitVersion"] == testbin.kube_version


def test_etcd_is_the_built_release(testbin: Testbin):
    import subprocess

    out = subprocess.run([str(testbin.etcd), "--version"], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert f"etcd Version: {testbin.etcd_version.removeprefix('v')}" in out


def test_namespace_and_configmap_round_trip(kube_control_plane: ControlPlane):
    cp = kube_control_plane
    ns = unique("roundtrip")
    cp.kubectl("create", "namespace", ns)
    cp.kubectl("create", "configmap", "greeting", "-n", ns,
               "--from-literal=hello=world", "--from-literal=answer=42")
    got = json.loads(cp.kubectl("get", "configmap", "greeting", "-n", ns, "-o", "json").stdout)
    assert got["data"] == {"hello": "world", "answer": "42"}
    assert got["metadata"]["namespace"] == ns

    cp.kubectl("patch", "configmap", "greeting", "-n", ns, "--type=merge",
               "-p", '{"data": {"hello": "again"}}')
    got = json.loads(cp.kubectl("get", "configmap", "greeting", "-n", ns, "-o", "json").stdout)
    assert got["data"]["hello"] == "again"

    cp.kubectl("delete", "configmap", "greeting", "-n", ns)
    missing = cp.kubectl("get", "configmap", "greeting", "-n", ns, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_service_account_token_is_authenticated_but_forbidden(kube_control_plane: ControlPlane):
    cp = kube_control_plane
    ns, sa = unique("sa"), "robot"
    kubeconfig = cp.service_account_kubeconfig(ns, sa)

    # authenticated: the API server knows who this is (SelfSubjectReview)
    whoami = json.loads(cp.kubectl("auth", "whoami", "-o", "json", kubeconfig=kubeconfig).stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:{sa}"

    # ... but no RBAC grants it anything beyond discovery
    can_i = cp.kubectl("auth", "can-i", "list", "secrets", "-n", ns,
                       kubeconfig=kubeconfig, check=False)
    assert (can_i.returncode, can_i.stdout.strip()) == (1, "no")
    denied = cp.kubectl("get", "secrets", "-n", ns, kubeconfig=kubeconfig, check=False)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr
    assert f"system:serviceaccount:{ns}:{sa}" in denied.stderr

    # the same as raw HTTP: 403 with the token, 401 with a forged one
    token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
    url = f"{cp.server}/api/v1/namespaces/{ns}/secrets"
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    http.verify = str(cp.ca_file)
    r = http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 403, r.text
    assert r.json()["reason"] == "Forbidden"
    r = http.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=10)
    assert r.status_code == 401, r.text

    # granting RBAC makes the same token work
    cp.kubectl("create", "role", "read-secrets", "-n", ns, "--verb=list", "--resource=secrets")
    cp.kubectl("create", "rolebinding", "robot-reads-secrets", "-n", ns,
               "--role=read-secrets", f"--serviceaccount={ns}:{sa}")
    allowed = cp.kubectl("auth", "can-i", "list", "secrets", "-n", ns, kubeconfig=kubeconfig,
                         check=False)
    assert allowed.stdout.strip() == "yes"
    cp.kubectl("get", "secrets", "-n", ns, kubeconfig=kubeconfig)


PRIVILEGED_POD = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata:
      name: privileged
    spec:
      automountServiceAccountToken: false
      containers:
        - name: main
          image: registry.invalid/pause:1
          securityContext:
            privileged: true
""")


def test_privileged_pod_rejected_by_restricted_pod_security(kube_control_plane: ControlPlane):
    cp = kube_control_plane
    restricted = unique("restricted")
    cp.create_namespace(restricted, labels={"pod-security.kubernetes.io/enforce": "restricted"})
    rejected = cp.kubectl("apply", "-n", restricted, "-f", "-", input=PRIVILEGED_POD, check=False)
    assert rejected.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in rejected.stderr, rejected.stderr
    assert "privileged" in rejected.stderr

    # the same pod is admitted where no Pod Security level is enforced (allow-privileged=true)
    open_ns = unique("open")
    cp.create_namespace(open_ns)
    cp.kubectl("apply", "-n", open_ns, "-f", "-", input=PRIVILEGED_POD)
    cp.kubectl("get", "pod", "privileged", "-n", open_ns)


def make_tiny_chart(root: Path) -> Path:
    chart = root / "tiny"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: tiny\nversion: 0.1.0\nappVersion: '1.0'\n"
    )
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "configmap.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-tiny
          labels:
            app.kubernetes.io/managed-by: {{ .Release.Service }}
        data:
          greeting: {{ .Values.greeting | quote }}
    """))
    return chart


@pytest.mark.helm
def test_helm_version_and_template(testbin: Testbin, tmp_path: Path):
    version = testbin.helm_run("version", "--template", "{{.Version}}").stdout.strip()
    assert version == testbin.helm_version
    assert version.startswith("v4.")

    chart = make_tiny_chart(tmp_path)
    out = testbin.helm_run("template", "demo", str(chart), "--set", "greeting=hi").stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert len(docs) == 1
    assert docs[0]["metadata"]["name"] == "demo-tiny"
    assert docs[0]["data"] == {"greeting": "hi"}


@pytest.mark.helm
def test_helm_installs_into_the_control_plane(kube_control_plane: ControlPlane, tmp_path: Path):
    cp = kube_control_plane
    ns = unique("helm")
    chart = make_tiny_chart(tmp_path)
    cp.helm("install", "demo", str(chart), "-n", ns, "--create-namespace",
            "--set", "greeting=installed")
    got = json.loads(cp.kubectl("get", "configmap", "demo-tiny", "-n", ns, "-o", "json").stdout)
    assert got["data"] == {"greeting": "installed"}
    assert got["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    listed = json.loads(cp.helm("list", "-n", ns, "-o", "json").stdout)
    assert [r["name"] for r in listed] == ["demo"]
    cp.helm("uninstall", "demo", "-n", ns)
