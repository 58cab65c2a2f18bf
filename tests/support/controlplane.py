"""A real Kubernetes test control plane (etcd + kube-apiserver) and real helm: pytest fixtures.

The binaries are built from the Go module proxy by ``hack/build-testbin.sh`` and cached by version
under ``~/.cache/spotter-testbin``. Like controller-runtime's envtest there is no kubelet and no
controller-manager: objects are stored and admitted (RBAC, PodSecurity, ...) but nothing runs them,
and no controller creates a namespace's ``default`` ServiceAccount (``create_namespace`` does).

Fixtures:
- ``testbin`` (session): a :class:`Testbin` with the paths and versions of the four binaries.
- ``kube_control_plane`` (session): a running :class:`ControlPlane` (admin kubeconfig, kubectl,
  helm, ServiceAccount-token kubeconfigs).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-testbin.sh"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
STARTUP_TIMEOUT = float(os.environ.get("SPOTTER_CONTROLPLANE_TIMEOUT", "120"))


class TestbinError(RuntimeError):
    """hack/build-testbin.sh failed; the message holds the tail of its output."""

    __test__ = False


class ControlPlaneError(RuntimeError):
    """etcd or kube-apiserver did not start; the message holds the tail of their logs."""


class CommandError(subprocess.CalledProcessError):
    """A kubectl/helm command failed; unlike CalledProcessError its message shows the output."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()}\n--- stdout ---\n{self.stdout or ''}"
            f"\n--- stderr ---\n{self.stderr or ''}"
        )


def _run(
    argv: Sequence[str],
    *,
    check: bool,
    input: str | None,
    timeout: float,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv), input=input, capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and proc.returncode != 0:
        raise CommandError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return proc


# --- the binaries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Testbin:
    """Paths of the built binaries and the versions they were stamped with."""

    __test__ = False  # not a pytest test class

    kube_apiserver: Path
    etcd: Path
    kubectl: Path
    helm: Path
    kube_version: str  # e.g. "v1.37.2"
    etcd_version: str  # e.g. "v3.6.16"
    helm_version: str  # e.g. "v4.3.2"

    def helm_run(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run helm with an isolated HOME-less config (no repos, no plugins from the user)."""
        return _run([str(self.helm), *args], check=check, input=input, timeout=timeout,
                    env={**_helm_env(), **(env or {})})


_HELM_ENV: dict[str, str] | None = None


def _helm_env() -> dict[str, str]:
    """Keep helm's cache/config/data out of the developer's home: one temp dir per process."""
    global _HELM_ENV
    if _HELM_ENV is None:
        base = Path(tempfile.mkdtemp(prefix="spotter-helm-home-"))
        _HELM_ENV = {
            **os.environ,
            "HELM_CACHE_HOME": str(base / "cache"),
            "HELM_CONFIG_HOME": str(base / "config"),
            "HELM_DATA_HOME": str(base / "data"),
        }
    return _HELM_ENV


_TESTBIN: Testbin | None = None
_TESTBIN_ERROR: TestbinError | None = None
_TESTBIN_LOCK = threading.Lock()


def ensure_testbin(progress: Callable[[str], None] | None = None) -> Testbin:
    """Run hack/build-testbin.sh --print-env (a cache check when warm, a build when cold).

    Never skips: a missing or failing build is an error, in CI and locally alike.
    """
    global _TESTBIN, _TESTBIN_ERROR
    with _TESTBIN_LOCK:
        if _TESTBIN is not None:
            return _TESTBIN
        if _TESTBIN_ERROR is not None:  # a failed build is not retried within one session
            raise _TESTBIN_ERROR
        try:
            _TESTBIN = _build_testbin(progress)
        except TestbinError as exc:
            _TESTBIN_ERROR = exc
            raise
        return _TESTBIN


def _build_testbin(progress: Callable[[str], None] | None) -> Testbin:
    if not BUILD_SCRIPT.exists():
        raise TestbinError(f"{BUILD_SCRIPT} is missing")
    proc = subprocess.Popen(
        ["bash", str(BUILD_SCRIPT), "--print-env"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    err_lines: list[str] = []
    for line in proc.stderr:  # progress; stdout stays tiny, so no deadlock
        err_lines.append(line.rstrip("\n"))
        if progress is not None:
            progress(line.rstrip("\n"))
    out = proc.stdout.read()
    rc = proc.wait()
    if rc != 0:
        tail = "\n".join(err_lines[-60:])
        raise TestbinError(f"hack/build-testbin.sh failed (exit {rc}):\n{tail}")
    env = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    try:
        tb = Testbin(
            kube_apiserver=Path(env["KUBE_APISERVER"]),
            etcd=Path(env["ETCD"]),
            kubectl=Path(env["KUBECTL"]),
            helm=Path(env["HELM"]),
            kube_version=env["KUBE_VERSION"],
            etcd_version=env["ETCD_VERSION"],
            helm_version=env["HELM_VERSION"],
        )
    except KeyError as exc:
        raise TestbinError(f"hack/build-testbin.sh printed no {exc}: {out!r}") from None
    for p in (tb.kube_apiserver, tb.etcd, tb.kubectl, tb.helm):
        if not os.access(p, os.X_OK):
            raise TestbinError(f"hack/build-testbin.sh reported {p}, which is not executable")
    return tb


# --- certificates (as envtest makes them) -------------------------------------------------------


def _write_key(path: Path, key: Any) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


@dataclass(frozen=True)
class _Certs:
    ca: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def _make_certs(d: Path) -> _Certs:
    d.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=7)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "spotter-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(subject: x509.Name, eku: x509.ObjectIdentifier, sans: list[x509.GeneralName]):
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_encipherment=False, key_cert_sign=False,
                    crl_sign=False, content_commitment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, b.sign(ca_key, hashes.SHA256())

    service_ip = next(ipaddress.ip_network(SERVICE_CLUSTER_IP_RANGE).hosts())
    serving_key, serving_cert = leaf(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
        ExtendedKeyUsageOID.SERVER_AUTH,
        [
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(service_ip),
        ],
    )
    admin_key, admin_cert = leaf(
        x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
            x509.NameAttribute(NameOID.COMMON_NAME, "admin"),
        ]),
        ExtendedKeyUsageOID.CLIENT_AUTH,
        [],
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    certs = _Certs(
        ca=d / "ca.crt", ca_key=d / "ca.key",
        serving_cert=d / "apiserver.crt", serving_key=d / "apiserver.key",
        admin_cert=d / "admin.crt", admin_key=d / "admin.key",
        sa_key=d / "sa.key", sa_pub=d / "sa.pub",
    )
    _write_cert(certs.ca, ca_cert)
    _write_key(certs.ca_key, ca_key)
    _write_cert(certs.serving_cert, serving_cert)
    _write_key(certs.serving_key, serving_key)
    _write_cert(certs.admin_cert, admin_cert)
    _write_key(certs.admin_key, admin_key)
    _write_key(certs.sa_key, sa_key)
    certs.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return certs


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: SIGTERM the child if pytest dies without running its finalizers."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class _Proc:
    name: str
    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as logf:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace: float = 10) -> None:
        p = self.popen
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self.popen = None


def _kubeconfig(
    server: str, ca_file: Path, user: dict[str, Any], namespace: str | None = None,
    user_name: str = "admin",
) -> str:
    ctx: dict[str, Any] = {"cluster": "spotter-test", "user": user_name}
    if namespace:
        ctx["namespace"] = namespace
    return yaml.safe_dump({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "spotter-test",
                      "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": "spotter-test", "context": ctx}],
        "current-context": "spotter-test",
        "preferences": {},
    }, sort_keys=False)


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver pair on free loopback ports.

    Attributes: ``kubeconfig`` (admin, system:masters), ``server`` (https URL), ``ca_file``,
    ``version`` (the API server's gitVersion), ``workdir`` (certs, logs, data), ``testbin``.
    """

    testbin: Testbin
    workdir: Path
    server: str = ""
    kubeconfig: Path = field(default=Path())
    ca_file: Path = field(default=Path())
    version: str = ""
    etcd_url: str = ""
    _certs: _Certs | None = None
    _procs: list[_Proc] = field(default_factory=list)
    _sa_kubeconfigs: dict[tuple[str, str], Path] = field(default_factory=dict)

    # -- lifecycle --

    def start(self, attempts: int = 3) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._certs = _make_certs(self.workdir / "pki")
        self.ca_file = self._certs.ca
        last: ControlPlaneError | None = None
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(attempt)
                return
            except ControlPlaneError as exc:
                self.stop()
                last = exc
                # a port picked by free_port() may have been taken meanwhile: try new ones
                if "address already in use" not in str(exc):
                    break
        assert last is not None
        raise last

    def _start_once(self, attempt: int) -> None:
        assert self._certs is not None
        c = self._certs
        tb = self.testbin
        run = self.workdir / f"run{attempt}"
        run.mkdir(parents=True, exist_ok=True)
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = _Proc("etcd", [
            str(tb.etcd),
            "--name=default",
            f"--data-dir={run / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync=true",  # a throwaway test store: durability is not wanted
            "--log-level=warn",
        ], run / "etcd.log")
        self._procs.append(etcd)
        etcd.start()
        plain = requests.Session()
        plain.trust_env = False
        self._wait(lambda: plain.get(f"{self.etcd_url}/health", timeout=2).json()
                   .get("health") == "true", "etcd /health", [etcd])

        self.server = f"https://127.0.0.1:{api_port}"
        apiserver = _Proc("kube-apiserver", [
            str(tb.kube_apiserver),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # no controllers maintain the `kubernetes` Service's endpoints here, and the
            # reconciler refuses a loopback advertise address
            "--endpoint-reconciler-type=none",
            f"--secure-port={api_port}",
            f"--cert-dir={run / 'apiserver-certs'}",
            f"--tls-cert-file={c.serving_cert}",
            f"--tls-private-key-file={c.serving_key}",
            f"--client-ca-file={c.ca}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={self.server}",
            f"--service-account-key-file={c.sa_pub}",
            f"--service-account-signing-key-file={c.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ], run / "kube-apiserver.log")
        self._procs.append(apiserver)
        apiserver.start()

        kc = self.workdir / "admin.kubeconfig"
        kc.write_text(_kubeconfig(self.server, c.ca, {
            "client-certificate": str(c.admin_cert), "client-key": str(c.admin_key),
        }))
        kc.chmod(0o600)
        self.kubeconfig = kc

        session = self.admin_session()

        def ready() -> bool:
            r = session.get(f"{self.server}/readyz", timeout=5)
            # the system namespaces are made by a controller inside the API server, after /readyz
            return r.status_code == 200 and session.get(
                f"{self.server}/api/v1/namespaces/default", timeout=5).status_code == 200

        self._wait(ready, "kube-apiserver /readyz", [etcd, apiserver])
        self.version = session.get(f"{self.server}/version", timeout=5).json()["gitVersion"]

    def _wait(self, probe: Callable[[], bool], what: str, procs: list[_Proc]) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last_err = ""
        while True:
            for p in procs:
                if not p.running():
                    rc = p.popen.returncode if p.popen else None
                    raise ControlPlaneError(self._failure(f"{p.name} exited (code {rc}) "
                                                          f"while waiting for {what}"))
            try:
                if probe():
                    return
            except (requests.RequestException, ValueError) as exc:
                last_err = f"{type(exc).__name__}: {exc}"
                if "CERTIFICATE_VERIFY_FAILED" in last_err:  # not transient: fail now
                    raise ControlPlaneError(self._failure(f"{what}: {last_err}")) from exc
            if time.monotonic() > deadline:
                raise ControlPlaneError(self._failure(
                    f"timed out after {STARTUP_TIMEOUT:.0f}s waiting for {what} ({last_err})"))
            time.sleep(0.2)

    def _failure(self, msg: str) -> str:
        parts = [f"test control plane did not start: {msg}", f"workdir: {self.workdir}"]
        for p in self._procs:
            parts.append(f"--- last lines of {p.log} ---\n{_tail(p.log)}")
        return "\n".join(parts)

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (terminate, then kill), by PID."""
        for p in reversed(self._procs):
            with contextlib.suppress(Exception):
                p.stop()
        self._procs.clear()

    # -- clients --

    def admin_session(self) -> requests.Session:
        """A requests.Session authenticated as the admin (system:masters) client cert."""
        assert self._certs is not None
        s = requests.Session()
        # ignore REQUESTS_CA_BUNDLE & co. (they would override s.verify) and proxies
        s.trust_env = False
        s.cert = (str(self._certs.admin_cert), str(self._certs.admin_key))
        s.verify = str(self._certs.ca)
        return s

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        """os.environ plus KUBECONFIG (admin by default), for subprocesses like the operator."""
        return {**os.environ, "KUBECONFIG": str(kubeconfig or self.kubeconfig)}

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl --kubeconfig <admin or given> ARGS; CommandError if check and rc != 0."""
        kc = str(kubeconfig or self.kubeconfig)
        argv = [str(self.testbin.kubectl), "--kubeconfig", kc, *args]
        return _run(argv, check=check, input=input, timeout=timeout)

    def helm(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 180,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run helm --kubeconfig <admin or given> ARGS (isolated helm home)."""
        return self.testbin.helm_run(
            "--kubeconfig", str(kubeconfig or self.kubeconfig), *args,
            check=check, input=input, timeout=timeout,
        )

    def api_client(self, kubeconfig: Path | None = None) -> Any:
        """A kubernetes.client.ApiClient for the admin (or the given) kubeconfig."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig or self.kubeconfig))

    # -- objects --

    def apply(self, manifest: str | dict[str, Any] | list[dict[str, Any]]) -> None:
        """kubectl apply -f - of YAML text or (a list of) dicts, as the admin."""
        if not isinstance(manifest, str):
            docs = manifest if isinstance(manifest, list) else [manifest]
            manifest = yaml.safe_dump_all(docs)
        self.kubectl("apply", "-f", "-", input=manifest)

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        """Create (or update) a namespace and its `default` ServiceAccount.

        There is no controller-manager here, so nothing else would create that ServiceAccount,
        and without it the ServiceAccount admission plugin rejects pods that don't name one.
        """
        ns: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        if labels:
            ns["metadata"]["labels"] = dict(labels)
        self.apply([ns, {"apiVersion": "v1", "kind": "ServiceAccount",
                         "metadata": {"name": "default", "namespace": name}}])

    def service_account_token(
        self, namespace: str, name: str, *, expiration_seconds: int = 3600,
        audiences: Sequence[str] | None = None,
    ) -> str:
        """Mint a token for an existing ServiceAccount through the TokenRequest API."""
        spec: dict[str, Any] = {"expirationSeconds": expiration_seconds}
        if audiences:
            spec["audiences"] = list(audiences)
        r = self.admin_session().post(
            f"{self.server}/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
            timeout=10,
        )
        if r.status_code != 201:
            raise RuntimeError(f"TokenRequest for {namespace}/{name} failed: "
                               f"HTTP {r.status_code} {r.text}")
        return str(r.json()["status"]["token"])

    def service_account_kubeconfig(
        self, namespace: str, name: str, *, create: bool = True, expiration_seconds: int = 3600,
    ) -> Path:
        """Write a kubeconfig that authenticates as ServiceAccount namespace/name (bearer token).

        With ``create`` the namespace and the ServiceAccount are created if missing. The context's
        default namespace is ``namespace``. RBAC for it is the caller's business.
        """
        if create:
            self.apply([
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": name, "namespace": namespace}},
            ])
        token = self.service_account_token(namespace, name, expiration_seconds=expiration_seconds)
        path = self.workdir / "sa-kubeconfigs" / f"{namespace}.{name}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_kubeconfig(self.server, self.ca_file, {"token": token},
                                    namespace=namespace,
                                    user_name=f"system:serviceaccount:{namespace}:{name}"))
        path.chmod(0o600)
        self._sa_kubeconfigs[(namespace, name)] = path
        return path


def start_control_plane(testbin: Testbin, workdir: Path) -> ControlPlane:
    """Start a control plane (callers must .stop() it); stopped again at interpreter exit."""
    cp = ControlPlane(testbin=testbin, workdir=workdir)
    atexit.register(cp.stop)
    try:
        cp.start()
    except BaseException:
        cp.stop()
        raise
    return cp


# --- pytest plugin -----------------------------------------------------------------------------


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries before the first test that needs them, outside any per-test timeout.

    A cold build takes many minutes; doing it here keeps pytest-timeout's per-test limit for
    the tests themselves, and shows progress lines on the terminal.
    """
    if session.config.option.collectonly:
        return
    if not any("testbin" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    if _TESTBIN is not None:
        return
    capman = session.config.pluginmanager.getplugin("capturemanager")
    reporter = session.config.pluginmanager.getplugin("terminalreporter")

    def progress(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr, flush=True)

    ctx = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
    try:
        with ctx:
            ensure_testbin(progress)
    except TestbinError:
        # reported again, as an error of each test that uses the fixture
        pass


@pytest.fixture(scope="session")
def testbin() -> Testbin:
    """Paths and versions of kube-apiserver, etcd, kubectl and helm (built if missing)."""
    try:
        return ensure_testbin()
    except TestbinError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def kube_control_plane(
    testbin: Testbin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """A real etcd + kube-apiserver for the session (RBAC, PodSecurity, TokenRequest)."""
    workdir = tmp_path_factory.mktemp("controlplane")
    try:
        cp = start_control_plane(testbin, workdir)
    except ControlPlaneError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cp
    finally:
        cp.stop()
