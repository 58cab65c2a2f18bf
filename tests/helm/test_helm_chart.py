"""The chart with the real helm, no cluster: lint, schema strictness, values cases, rendering."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helmlib import CHART, CI_FILES, Helm, ci_id, container, env_of, find

from support.controlplane import REPO_ROOT

pytestmark = pytest.mark.helm

WORKLOAD_KINDS = {"Deployment", "StatefulSet"}
STABLE_SELECTOR_KEYS = {
    "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component",
}


def all_renders(helm: Helm) -> dict[str, list[dict[str, Any]]]:
    out = {"defaults": helm.render()}
    for f in CI_FILES:
        out[f.stem] = helm.render(values=[f])
    return out


# --- lint and the schema -------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, *CI_FILES], ids=ci_id)
def test_helm_lint_passes_strictly(helm: Helm, values: Path | None):
    args = ["lint", "--strict", str(CHART)]
    if values is not None:
        args += ["-f", str(values)]
    proc = helm.run(*args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout
    assert "[ERROR]" not in proc.stdout and "[WARNING]" not in proc.stdout


def test_ci_matrix_covers_the_required_cases():
    stems = {f.stem for f in CI_FILES}
    assert {"namespaced-values", "external-redis-values", "ingress-values",
            "monitoring-values", "networkpolicy-values", "replay-values"} <= stems


@pytest.mark.parametrize("typo, key", [
    ("api:\n  replicaCout: 3\n", "replicaCout"),
    ("reddis:\n  enabled: true\n", "reddis"),
    ("redis:\n  persistence:\n    enabeld: true\n", "enabeld"),
    ("operator:\n  securityContext:\n    readOnlyRootFileSystem: true\n",
     "readOnlyRootFileSystem"),
    ("metrics:\n  prometheusRule:\n    stale: 10\n", "stale"),
])
def test_a_typo_in_a_key_fails_naming_the_key(helm: Helm, values_file, typo: str, key: str):
    proc = helm.template(values=[values_file(typo)], check=False)
    assert proc.returncode != 0
    assert "schema" in proc.stderr
    assert f"'{key}'" in proc.stderr, proc.stderr


def test_a_wrong_type_or_enum_fails_naming_the_path(helm: Helm, values_file):
    proc = helm.template(values=[values_file("operator:\n  scope: everywhere\n")], check=False)
    assert proc.returncode != 0 and "/operator/scope" in proc.stderr, proc.stderr
    proc = helm.template(values=[values_file("api:\n  replicaCount: two\n")], check=False)
    assert proc.returncode != 0 and "/api/replicaCount" in proc.stderr, proc.stderr


def _walk_schema(node: Any, path: str, out: list[tuple[str, dict[str, Any]]]) -> None:
    if isinstance(node, dict):
        if "properties" in node or node.get("type") in ("object", ["object", "null"]):
            out.append((path, node))
        for k, v in node.items():
            _walk_schema(v, f"{path}/{k}", out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk_schema(v, f"{path}/{i}", out)


def test_schema_closes_every_object():
    schema = json.loads((CHART / "values.schema.json").read_text())
    objects: list[tuple[str, dict[str, Any]]] = []
    _walk_schema(schema, "#", objects)
    assert len(objects) > 50
    for path, node in objects:
        assert "additionalProperties" in node, f"{path} is open to unknown keys"
        extra = node["additionalProperties"]
        if "properties" in node:  # a record: exactly its properties
            assert extra is False, f"{path} has properties but allows others"
        else:  # a map (labels, env, resource quantities): values are typed
            assert isinstance(extra, dict) and extra, f"{path} is a map of anything"


def test_defaults_pass_the_schema_and_match_its_keys():
    """Every default key is in the schema and every schema property has a default."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def compare(v: Any, s: dict[str, Any], path: str, owned: bool = True) -> None:
        owned = owned and "$ref" not in s  # the chart's own records, not types from $defs
        s = resolve(s)
        if "properties" not in s or not isinstance(v, dict):
            return
        assert set(v) <= set(s["properties"]), f"{path}: {set(v) - set(s['properties'])}"
        for key in v:
            compare(v[key], s["properties"][key], f"{path}.{key}", owned)
        if owned:  # every property of the chart's own records has a documented default
            missing = set(s["properties"]) - set(v)
            assert not missing, f"{path}: schema properties without defaults: {missing}"

    compare(values, schema, "values")


# Children of these keys are Kubernetes objects passed through as they are.
PASSTHROUGH_KEYS = {
    "resources", "podSecurityContext", "securityContext", "livenessProbe", "readinessProbe",
    "podSelectorLabels", "hosts", "products",
}


def test_every_values_key_is_documented_on_the_line_above():
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str]] = []  # (indent, key) of the enclosing keys
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z][\w.-]*):(\s|$)", line)
        if not m:
            continue
        indent, key = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        inside_passthrough = any(k in PASSTHROUGH_KEYS for _, k in stack)
        stack.append((indent, key))
        if inside_passthrough:
            continue
        above = lines[i - 1].strip() if i else ""
        if not above.startswith("#") or len(above) < 6:
            undocumented.append(".".join(k for _, k in stack))
    assert not undocumented, f"keys without a comment line above: {undocumented}"


# --- values cases -----------------------------------------------------------------------------


def test_resources_null_renders_without_resources(helm: Helm, values_file):
    docs = helm.render(values=[values_file(
        "api:\n  resources: null\noperator:\n  resources: null\nredis:\n  resources: null\n"
        "fetcher:\n  resources: null\n")])
    for suffix in ("-api", "-operator"):
        assert "resources" not in container(find(docs, "Deployment", suffix))
    assert "resources" not in container(find(docs, "StatefulSet", "-redis"))
    op_env = env_of(container(find(docs, "Deployment", "-operator")))
    assert json.loads(op_env["SPOTTER_FETCHER_RESOURCES"]) == {}


COMMENT_ONLY = """\
api:
  podAnnotations:
    # prometheus.io/scrape: "true"
  resources:
    # limits:
    #   memory: 1Gi
  ingress:
    # enabled: true
  autoscaling:
  livenessProbe:
operator:
  extraArgs:
    # - --verbose
  affinity:
redis:
  persistence:
    # enabled: true
metrics:
  # serviceMonitor:
  #   enabled: true
exampleSpotWatch:
networkPolicy:
imagePullSecrets:
  # - name: regcred
"""


def test_keys_with_only_comments_under_them_are_accepted(helm: Helm, values_file):
    path = values_file(COMMENT_ONLY)
    proc = helm.run("lint", "--strict", str(CHART), "-f", str(path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = helm.render(values=[path])
    api = find(docs, "Deployment", "-api")
    assert "resources" not in container(api)
    assert "livenessProbe" not in container(api)
    assert "readinessProbe" in container(api)
    assert not [d for d in docs if d["kind"] in ("Ingress", "HorizontalPodAutoscaler",
                                                 "ServiceMonitor", "NetworkPolicy")]


def test_every_nullable_key_in_values_yaml_accepts_null(helm: Helm, values_file):
    """Each key documented "(nullable)" renders when set to null."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    paths, stack = [], []
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(2)))
        if "(nullable" in lines[i - 1]:
            paths.append([k for _, k in stack])
    assert len(paths) >= 15
    doc: dict[str, Any] = {}
    for keys in paths:
        node = doc
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = None
    proc = helm.template(values=[values_file(yaml.safe_dump(doc))], check=False)
    assert proc.returncode == 0, proc.stderr


# --- what the chart renders ---------------------------------------------------------------------


def test_one_resource_per_template_file_named_after_its_kind(helm: Helm):
    for name, docs in all_renders(helm).items():
        seen: dict[str, str] = {}
        for d in docs:
            src = d["_source"]
            assert src not in seen, f"{name}: {src} renders {seen[src]} and {d['kind']}"
            seen[src] = d["kind"]
            assert Path(src).stem == d["kind"].lower(), f"{src} holds a {d['kind']}"


def test_selectors_hold_only_stable_labels(helm: Helm, values_file):
    renders = all_renders(helm)
    relabelled = helm.render(values=[values_file(
        "commonLabels:\n  team: spot\n  app.kubernetes.io/version: x\n"
        "api:\n  podLabels:\n    tier: web\n")])
    selectors: dict[tuple[str, str], dict[str, str]] = {}
    for docs in [*renders.values(), relabelled]:
        for d in docs:
            spec = d.get("spec") or {}
            sel = None
            if d["kind"] in (*WORKLOAD_KINDS, "PodDisruptionBudget", "ServiceMonitor"):
                sel = spec["selector"]["matchLabels"]
            elif d["kind"] == "Service":
                sel = spec["selector"]
            elif d["kind"] == "NetworkPolicy":
                sel = spec["podSelector"]["matchLabels"]
            if sel is None:
                continue
            assert set(sel) <= STABLE_SELECTOR_KEYS, f"{d['kind']} {sel}"
            key = (d["kind"], d["metadata"]["name"])
            assert selectors.setdefault(key, sel) == sel, f"{key} selector changed"
            if d["kind"] in WORKLOAD_KINDS:
                tpl = spec["template"]["metadata"]["labels"]
                assert sel.items() <= tpl.items()
    api = find(relabelled, "Deployment", "-api")
    assert api["metadata"]["labels"]["team"] == "spot"
    assert api["spec"]["template"]["metadata"]["labels"]["tier"] == "web"


def test_operator_scope_sets_the_rbac_kind_and_the_kopf_flag(helm: Helm, values_file):
    rules = yaml.safe_load((CHART / "files" / "operator-rbac.yaml").read_text())
    expected = list(rules.get("framework") or []) + list(rules.get("application") or [])

    cluster = helm.render(namespace="ops")
    role = find(cluster, "ClusterRole", "-operator-ops")
    assert role["rules"] == expected
    binding = find(cluster, "ClusterRoleBinding", "-operator-ops")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "r-spotter-operator",
                                    "namespace": "ops"}]
    assert not [d for d in cluster if d["kind"] in ("Role", "RoleBinding")]
    op = container(find(cluster, "Deployment", "-operator"))
    assert op["command"] == ["kopf", "run"]
    assert op["args"][:3] == ["-m", "spotter.operator", "--all-namespaces"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in op["args"]

    namespaced = helm.render(values=[CHART / "ci" / "namespaced-values.yaml"], namespace="ops")
    assert find(namespaced, "Role", "-operator")["rules"] == expected
    assert find(namespaced, "RoleBinding", "-operator")["roleRef"]["kind"] == "Role"
    assert not [d for d in namespaced if d["kind"].startswith("Cluster")]
    op = container(find(namespaced, "Deployment", "-operator"))
    assert op["args"][:4] == ["-m", "spotter.operator", "--namespace", "ops"]


def test_operator_deployment_is_one_replica_recreate_with_liveness(helm: Helm):
    dep = find(helm.render(), "Deployment", "-operator")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    probe = container(dep)["livenessProbe"]
    assert probe["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container(dep)["ports"]


def test_fetcher_settings_reach_the_operator(helm: Helm, values_file):
    docs = helm.render(values=[values_file("""
fetcher:
  image: {repository: registry.example/fetcher, tag: "9.9"}
  metricsPort: 9200
  resources: {requests: {cpu: 10m}}
  serviceAccount: {name: fetch-sa, annotations: {a: b}}
aws:
  region: eu-west-1
  endpointUrl: http://replay.example:8000
  source: replay
  existingSecret: aws-keys
config:
  logLevel: DEBUG
  regions: [eu-west-1, us-east-1]
""")])
    env = env_of(container(find(docs, "Deployment", "-operator")))
    assert env["SPOTTER_FETCHER_IMAGE"] == "registry.example/fetcher:9.9"
    assert env["SPOTTER_FETCHER_SERVICE_ACCOUNT"] == "fetch-sa"
    assert env["SPOTTER_FETCHER_METRICS_PORT"] == "9200"
    # helm merges maps with the defaults: only the given quantity changes
    assert json.loads(env["SPOTTER_FETCHER_RESOURCES"]) == {
        "requests": {"cpu": "10m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    psc = json.loads(env["SPOTTER_FETCHER_POD_SECURITY_CONTEXT"])
    assert psc["runAsUser"] == 10001 and psc["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = json.loads(env["SPOTTER_FETCHER_SECURITY_CONTEXT"])
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["readOnlyRootFilesystem"] is True
    assert env["SPOTTER_REDIS_SECRET_NAME"] == "r-spotter-redis"
    assert env["SPOTTER_REDIS_SECRET_KEY"] == "redis-password"
    assert env["SPOTTER_AWS_SECRET_NAME"] == "aws-keys"
    assert env["REDIS_HOST"] == "r-spotter-redis.spotter.svc"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["SPOTTER_SOURCE"] == "replay"
    assert env["SPOTTER_AWS_ENDPOINT_URL"] == "http://replay.example:8000"
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["SPOTTER_REGIONS"] == "eu-west-1,us-east-1"
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "r-spotter-redis",
                                                      "key": "redis-password"}}
    sa = find(docs, "ServiceAccount", "fetch-sa")
    assert sa["metadata"]["annotations"] == {"a": "b"}
    assert sa["automountServiceAccountToken"] is False

    default_env = env_of(container(find(helm.render(), "Deployment", "-operator")))
    op_image = container(find(helm.render(), "Deployment", "-operator"))["image"]
    assert default_env["SPOTTER_FETCHER_IMAGE"] == op_image
    assert "SPOTTER_AWS_SECRET_NAME" not in default_env


def test_aws_has_no_static_keys_by_default_and_irsa_annotates_both_service_accounts(
    helm: Helm, values_file,
):
    docs = helm.render()
    assert not [d for d in docs if d["kind"] == "Secret" and "aws" in d["metadata"]["name"]]
    for d in docs:
        if d["kind"] in WORKLOAD_KINDS:
            assert "envFrom" not in container(d)
    arn = "arn:aws:iam::123456789012:role/spotter"
    docs = helm.render(values=[values_file(f"aws:\n  roleArn: {arn}\n")])
    for suffix in ("-operator", "-fetcher"):
        sa = find(docs, "ServiceAccount", suffix)
        assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == arn
    assert "annotations" not in find(docs, "ServiceAccount", "-api")["metadata"]

    docs = helm.render(values=[values_file(
        "aws:\n  staticKeys:\n    create: true\n    accessKeyId: AKIAEXAMPLE\n"
        "    secretAccessKey: s3cr3t\n")])
    secret = find(docs, "Secret", "-aws")
    assert set(secret["stringData"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    op = container(find(docs, "Deployment", "-operator"))
    assert op["envFrom"] == [{"secretRef": {"name": "r-spotter-aws"}}]
    assert env_of(op)["SPOTTER_AWS_SECRET_NAME"] == "r-spotter-aws"


def test_bundled_redis_password_is_generated_and_only_referenced(helm: Helm):
    docs = helm.render()
    secret = find(docs, "Secret", "-redis")
    assert len(secret["data"]["redis-password"]) >= 40  # 32 random characters, base64
    other = helm.render()
    assert find(other, "Secret", "-redis")["data"] != secret["data"]  # fresh per install
    text = json.dumps([d for d in docs if d["kind"] != "Secret"])
    assert secret["data"]["redis-password"] not in text
    redis = container(find(docs, "StatefulSet", "-redis"))
    assert "$(REDIS_PASSWORD)" in redis["args"]
    assert env_of(redis)["REDISCLI_AUTH"]["secretKeyRef"]["name"] == "r-spotter-redis"


def test_external_redis_by_url_or_host_and_existing_secret(helm: Helm, values_file):
    docs = helm.render(values=[CHART / "ci" / "external-redis-values.yaml"])
    assert not [d for d in docs if d["metadata"]["name"].endswith("-redis")]
    env = env_of(container(find(docs, "Deployment", "-api")))
    assert env["REDIS_HOST"] == "redis.example.internal" and env["REDIS_PORT"] == "6380"
    assert env["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "spotter-external-redis",
                                                      "key": "password"}}

    docs = helm.render(values=[values_file(
        "redis: {enabled: false}\nexternalRedis: {url: 'rediss://cache.example:6380/2'}\n")])
    env = env_of(container(find(docs, "Deployment", "-operator")))
    assert env["REDIS_URL"] == "rediss://cache.example:6380/2"
    assert "REDIS_PASSWORD" not in env and "SPOTTER_REDIS_SECRET_NAME" not in env

    proc = helm.template(values=[values_file("redis: {enabled: false}\n")], check=False)
    assert proc.returncode != 0 and "externalRedis.url or externalRedis.host" in proc.stderr
    proc = helm.template(values=[values_file(
        "redis: {enabled: false}\nexternalRedis: {url: 'redis://h:6379/0', existingSecret: s}\n"
    )], check=False)
    assert proc.returncode != 0 and "cannot be combined with a password" in proc.stderr
    proc = helm.template(values=[values_file(
        "redis: {enabled: false}\nexternalRedis: {url: 'redis://:pw@h:6379/0'}\n")],
        check=False)
    assert proc.returncode != 0 and "/externalRedis/url" in proc.stderr


def test_every_pod_is_restricted_by_default(helm: Helm):
    """Static mirror of the restricted Pod Security Standard (the cluster test is the proof)."""
    for name, docs in all_renders(helm).items():
        for d in docs:
            if d["kind"] not in WORKLOAD_KINDS:
                continue
            pod = d["spec"]["template"]["spec"]
            psc = pod["securityContext"]
            assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, name
            assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
            for c in pod["containers"]:
                sc = c["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False
                assert sc["readOnlyRootFilesystem"] is True
                assert sc["capabilities"] == {"drop": ["ALL"]}
                mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
                assert "/tmp" in mounts, f"{name}: {d['metadata']['name']} has no writable /tmp"
            for v in pod.get("volumes", []):
                assert set(v) - {"name"} <= {"emptyDir", "persistentVolumeClaim", "secret",
                                             "configMap", "projected"}


def test_api_has_probes_a_metrics_dir_and_the_gunicorn_entrypoint(helm: Helm):
    dep = find(helm.render(), "Deployment", "-api")
    c = container(dep)
    assert c["command"] == ["gunicorn"]
    assert c["args"] == ["spotter.api.app:get_app()", "-c", "python:spotter.api.gunicorn_conf"]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    # /healthz never reads Redis: a Redis outage must not restart the API.
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = env_of(c)
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/var/run/spotter/metrics"
    assert env["API_PORT"] == "5001"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts["/var/run/spotter/metrics"] == "metrics"
    assert dep["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_optional_api_objects_render_when_enabled(helm: Helm):
    docs = helm.render(values=[CHART / "ci" / "ingress-values.yaml"])
    ing = find(docs, "Ingress", "-api")
    assert ing["spec"]["ingressClassName"] == "nginx"
    backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "r-spotter-api", "port": {"name": "http"}}
    hpa = find(docs, "HorizontalPodAutoscaler", "-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "r-spotter-api"
    assert "replicas" not in find(docs, "Deployment", "-api")["spec"]
    assert find(docs, "PodDisruptionBudget", "-api")["spec"]["maxUnavailable"] == 1
    tsc = find(docs, "Deployment", "-api")["spec"]["template"]["spec"][
        "topologySpreadConstraints"]
    assert tsc[0]["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"


def test_prometheus_rule_alerts_on_the_exporter_metric_names(helm: Helm):
    docs = helm.render(values=[CHART / "ci" / "monitoring-values.yaml"])
    rules = find(docs, "PrometheusRule")["spec"]["groups"][0]["rules"]
    by_alert = {r["alert"]: r for r in rules}
    assert set(by_alert) == {"SpotterRegionStale", "SpotterFetchErrors", "SpotterApiErrors"}
    assert "spotter_region_last_success_timestamp_seconds" in by_alert["SpotterRegionStale"]["expr"]
    assert "> 900" in by_alert["SpotterRegionStale"]["expr"]
    assert "spotter_fetch_errors_total" in by_alert["SpotterFetchErrors"]["expr"]
    assert 'spotter_http_requests_total{status=~"5.."}' in by_alert["SpotterApiErrors"]["expr"]
    assert "{{ $labels.region }}" in by_alert["SpotterRegionStale"]["annotations"]["summary"]
    sm = find(docs, "ServiceMonitor")
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["endpoints"][0]["port"] == "http"
    pm = find(docs, "PodMonitor")
    assert pm["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "spotter", "app.kubernetes.io/component": "fetcher"}
    assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"


def test_network_policy_lets_only_api_operator_and_fetchers_reach_redis(helm: Helm):
    docs = helm.render(values=[CHART / "ci" / "networkpolicy-values.yaml"])
    np = find(docs, "NetworkPolicy", "-redis")
    assert np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    assert np["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = np["spec"]["ingress"]
    components = sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                        for p in rule["from"])
    assert components == ["api", "fetcher", "operator"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]


def test_replay_mode_deploys_the_endpoint_and_wires_the_operator_and_fetchers_to_it(
    helm: Helm, values_file,
):
    from spotter.operator.config import OperatorConfig
    from spotter.operator.manifests import fetcher_deployment
    from spotter.operator.planning import plan_shards
    from spotter.operator.watch import Watch

    docs = helm.render(values=[CHART / "ci" / "replay-values.yaml"], release="spotter")
    dep = find(docs, "Deployment", "-replay")
    assert dep["metadata"]["name"] == "spotter-replay"
    pod = dep["spec"]["template"]["spec"]
    c = container(dep)
    op = container(find(docs, "Deployment", "-operator"))
    assert c["image"] == op["image"]
    assert c["command"] == ["spotter", "replay"]
    assert c["args"] == ["--host", "0.0.0.0", "--port", "8773"]
    assert c["ports"] == [{"name": "replay", "containerPort": 8773, "protocol": "TCP"}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/__replay__/health", "port": "replay"}
    assert pod["automountServiceAccountToken"] is False
    svc = find(docs, "Service", "-replay")
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"] == [{"name": "replay", "port": 8773, "targetPort": "replay",
                                     "protocol": "TCP"}]
    secret = find(docs, "Secret", "-replay-keys")
    assert secret["metadata"]["name"] == "spotter-replay-keys"
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": "replay-placeholder",
                                    "AWS_SECRET_ACCESS_KEY": "replay-placeholder"}

    env = env_of(op)
    assert env["SPOTTER_SOURCE"] == "replay"
    assert env["SPOTTER_AWS_ENDPOINT_URL"] == "http://spotter-replay.spotter.svc:8773"
    assert env["SPOTTER_AWS_SECRET_NAME"] == "spotter-replay-keys"
    assert op["envFrom"] == [{"secretRef": {"name": "spotter-replay-keys"}}]
    # ... and what the operator makes of that env for every fetcher
    config = OperatorConfig.from_env({k: v for k, v in env.items() if isinstance(v, str)})
    watch = Watch.from_body({
        "apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch",
        "metadata": {"name": "demo", "namespace": "spotter", "uid": "u"},
        "spec": {"instanceTypes": ["m5.large"], "regions": ["us-east-1"], "interval": "5m",
                 "products": ["Linux/UNIX"], "regionsPerShard": 4}})
    fetcher = container(fetcher_deployment(watch, plan_shards(watch.regions, 4)[0], config))
    assert env_of(fetcher)["SPOTTER_AWS_ENDPOINT_URL"] == env["SPOTTER_AWS_ENDPOINT_URL"]
    assert env_of(fetcher)["SPOTTER_SOURCE"] == "replay"
    assert fetcher["envFrom"] == [{"secretRef": {"name": "spotter-replay-keys"}}]

    # The NetworkPolicy lets the operator and the fetchers (any namespace: cluster scope) in.
    np = find(docs, "NetworkPolicy", "-replay")
    assert np["spec"]["podSelector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    (rule,) = np["spec"]["ingress"]
    peers = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]: p
             for p in rule["from"]}
    assert set(peers) == {"operator", "fetcher"}
    assert peers["fetcher"]["namespaceSelector"] == {}
    assert rule["ports"] == [{"protocol": "TCP", "port": 8773}]
    namespaced = helm.render(values=[CHART / "ci" / "replay-values.yaml",
                                     CHART / "ci" / "namespaced-values.yaml"])
    rule = find(namespaced, "NetworkPolicy", "-replay")["spec"]["ingress"][0]
    assert all("namespaceSelector" not in p for p in rule["from"])

    proc = helm.run("install", "spotter", str(CHART), "--dry-run=client", "-n", "spotter",
                    "--set", "replay.enabled=true")
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert "demo mode" in notes and "http://spotter-replay.spotter.svc:8773" in notes
    assert '"spotter-replay-keys"' in notes and "placeholders" in notes

    # Another port moves the container, the Service and the URL together.
    moved = helm.render(values=[values_file("replay: {enabled: true, port: 9000}\n")])
    assert container(find(moved, "Deployment", "-replay"))["args"][-1] == "9000"
    assert find(moved, "Service", "-replay")["spec"]["ports"][0]["port"] == 9000
    assert env_of(container(find(moved, "Deployment", "-operator")))[
        "SPOTTER_AWS_ENDPOINT_URL"] == "http://r-spotter-replay.spotter.svc:9000"


def test_replay_is_off_by_default_and_refuses_other_aws_settings(helm: Helm, values_file):
    docs = helm.render()
    assert not [d for d in docs if "-replay" in d["metadata"]["name"]]
    env = env_of(container(find(docs, "Deployment", "-operator")))
    assert env["SPOTTER_SOURCE"] == "aws-api"
    assert "SPOTTER_AWS_ENDPOINT_URL" not in env

    for extra, message in [
        ("aws: {existingSecret: keys}", "unset aws.existingSecret"),
        ("aws: {staticKeys: {create: true, accessKeyId: a, secretAccessKey: b}}",
         "unset aws.existingSecret and aws.staticKeys.create"),
        ("aws: {endpointUrl: 'http://replay.example:8773'}", "unset aws.endpointUrl"),
    ]:
        proc = helm.template(values=[values_file(f"replay: {{enabled: true}}\n{extra}\n")],
                             check=False)
        assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_example_spotwatch_uses_the_defaults(helm: Helm, values_file):
    docs = helm.render(values=[values_file(
        "config:\n  updateInterval: 10m\nexampleSpotWatch:\n  enabled: true\n  regions: []\n"
        "  name: demo\n")])
    sw = find(docs, "SpotWatch", "demo")
    assert sw["spec"]["interval"] == "10m"
    assert sw["spec"]["regions"] == []
    assert sw["spec"]["instanceTypes"] == ["t3.micro", "m5.large"]


def test_notes_tell_how_to_reach_the_api_and_create_a_spotwatch(helm: Helm):
    # helm template never prints NOTES; install --dry-run does
    proc = helm.run("install", "r", str(CHART), "--dry-run=client", "-n", "spotter")
    notes = proc.stdout.split("NOTES:", 1)[1]
    assert "port-forward svc/r-spotter-api" in notes
    assert "kind: SpotWatch" in notes
    assert "kubectl apply --server-side" in notes


def test_docs_name_what_the_chart_renders_for_release_spotter(helm: Helm, values_file):
    """docs/helm.md speaks of release `spotter` in namespace `spotter`: every object name it
    quotes is one the chart renders for that release, and README installs the same way."""
    renders = [
        helm.render(values=[CHART / "ci" / "replay-values.yaml"], release="spotter"),
        helm.render(values=[CHART / "ci" / "namespaced-values.yaml", values_file(
            "aws: {staticKeys: {create: true, accessKeyId: a, secretAccessKey: b}}\n")],
            release="spotter"),
    ]
    names = {(d["kind"], d["metadata"]["name"]) for docs in renders for d in docs}
    text = (REPO_ROOT / "docs" / "helm.md").read_text()
    quoted = set(re.findall(r"`(spotter-[a-z0-9-]+)`", text))
    assert len(quoted) >= 8, quoted
    missing = quoted - {name for _, name in names}
    assert not missing, f"docs/helm.md names objects the chart does not render: {missing}"
    for svc in re.findall(r"port-forward svc/([a-z0-9-]+)", text):
        assert ("Service", svc) in names, svc
    install = "helm install spotter charts/spotter -n spotter --create-namespace"
    assert f"{install} --set replay.enabled=true" in text
    readme = (REPO_ROOT / "README.md").read_text()
    on_k8s = readme.split("## On Kubernetes", 1)[1].split("\n## ", 1)[0]
    assert install in on_k8s and "kubectl apply -n spotter" in on_k8s


def test_chart_crd_is_identical_to_the_crd_source():
    source = REPO_ROOT / "crds"
    copy = REPO_ROOT / "charts" / "spotter" / "crds"
    names = sorted(p.name for p in source.glob("*.yaml"))
    assert names == sorted(p.name for p in copy.glob("*.yaml")) and names
    for name in names:
        assert (copy / name).read_bytes() == (source / name).read_bytes(), (
            f"charts/spotter/crds/{name} differs from crds/{name}: "
            f"cp crds/{name} charts/spotter/crds/")
