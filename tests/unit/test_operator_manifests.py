"""The fetcher Deployment builder: golden output, the env contract, and drift detection."""

from __future__ import annotations

import copy
import json

from spotter.config import Settings
from spotter.fetcher.cli import build_parser, settings_from_args
from spotter.operator.config import OperatorConfig
from spotter.operator.manifests import (
    deployment_name,
    fetcher_deployment,
    owned_selector,
    shard_of,
    template_drift,
)
from spotter.operator.planning import Shard
from spotter.operator.watch import Watch

WATCH = Watch(
    name="gpu-fleet", namespace="team-a", uid="0b1c-uid", generation=3,
    instance_types=("p4d.24xlarge", "g5.xlarge"), products=("Linux/UNIX", "Windows"),
    regions=(), interval=300.0, regions_per_shard=2,
)
SHARD = Shard(1, ("eu-west-1", "us-east-1"))
CONFIG = OperatorConfig.from_env({
    "SPOTTER_FETCHER_IMAGE": "ghcr.io/spotter-dev/spotter:1.2.3",
    "REDIS_HOST": "spotter-redis", "REDIS_PORT": "6379",
    "SPOTTER_REDIS_SECRET_NAME": "spotter-redis", "SPOTTER_REDIS_SECRET_KEY": "password",
    "SPOTTER_AWS_SECRET_NAME": "spotter-aws", "AWS_REGION": "us-east-1",
    "LOG_LEVEL": "INFO", "SPOTTER_FETCHER_METRICS_PORT": "9102",
    "SPOTTER_FETCHER_SERVICE_ACCOUNT": "spotter-fetcher",
})

GOLDEN = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "gpu-fleet-fetcher-1",
        "namespace": "team-a",
        "labels": {
            "app.kubernetes.io/name": "spotter",
            "app.kubernetes.io/component": "fetcher",
            "app.kubernetes.io/instance": "gpu-fleet",
            "app.kubernetes.io/managed-by": "spotter-operator",
            "spotter.dev/watch": "gpu-fleet",
            "spotter.dev/shard": "1",
        },
        "annotations": {"spotter.dev/regions": "eu-west-1,us-east-1"},
        "ownerReferences": [{
            "apiVersion": "spotter.dev/v1alpha1", "kind": "SpotWatch", "name": "gpu-fleet",
            "uid": "0b1c-uid", "controller": True,
        }],
    },
    "spec": {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "revisionHistoryLimit": 3,
        "selector": {"matchLabels": {
            "app.kubernetes.io/name": "spotter",
            "app.kubernetes.io/component": "fetcher",
            "app.kubernetes.io/instance": "gpu-fleet",
            "spotter.dev/watch": "gpu-fleet",
            "spotter.dev/shard": "1",
        }},
        "template": {
            "metadata": {"labels": {
                "app.kubernetes.io/name": "spotter",
                "app.kubernetes.io/component": "fetcher",
                "app.kubernetes.io/instance": "gpu-fleet",
                "app.kubernetes.io/managed-by": "spotter-operator",
                "spotter.dev/watch": "gpu-fleet",
                "spotter.dev/shard": "1",
            }},
            "spec": {
                "serviceAccountName": "spotter-fetcher",
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                    "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"},
                },
                "terminationGracePeriodSeconds": 30,
                "containers": [{
                    "name": "fetcher",
                    "image": "ghcr.io/spotter-dev/spotter:1.2.3",
                    "imagePullPolicy": "IfNotPresent",
                    "command": [
                        "spotter", "fetch",
                        "--regions", "eu-west-1,us-east-1",
                        "--instance-types", "p4d.24xlarge,g5.xlarge",
                        "--products", "Linux/UNIX,Windows",
                        "--interval", "300",
                    ],
                    "env": [
                        {"name": "REDIS_HOST", "value": "spotter-redis"},
                        {"name": "REDIS_PORT", "value": "6379"},
                        {"name": "AWS_REGION", "value": "us-east-1"},
                        {"name": "LOG_LEVEL", "value": "INFO"},
                        {"name": "SPOTTER_FETCHER_METRICS_PORT", "value": "9102"},
                        {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
                            "name": "spotter-redis", "key": "password"}}},
                        {"name": "SPOTTER_SHARD", "value": "team-a/gpu-fleet/1"},
                    ],
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                                  "limits": {"memory": "256Mi"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    "envFrom": [{"secretRef": {"name": "spotter-aws"}}],
                    "ports": [{"name": "metrics", "containerPort": 9102, "protocol": "TCP"}],
                }],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
            },
        },
    },
}


def test_fetcher_deployment_golden() -> None:
    assert fetcher_deployment(WATCH, SHARD, CONFIG) == GOLDEN


def test_builder_is_deterministic_and_does_not_share_config_objects() -> None:
    first = fetcher_deployment(WATCH, SHARD, CONFIG)
    first["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Gi"
    second = fetcher_deployment(WATCH, SHARD, CONFIG)
    assert json.dumps(second, sort_keys=True) == json.dumps(GOLDEN, sort_keys=True)


def test_the_command_is_what_spotter_fetch_understands() -> None:
    command = fetcher_deployment(WATCH, SHARD, CONFIG)["spec"]["template"]["spec"][
        "containers"][0]["command"]
    assert command[:2] == ["spotter", "fetch"]
    settings = settings_from_args(build_parser().parse_args(command[2:]), Settings())
    assert settings.regions == ("eu-west-1", "us-east-1")
    assert settings.instance_types == ("p4d.24xlarge", "g5.xlarge")
    assert settings.products == ("Linux/UNIX", "Windows")
    assert settings.update_interval == 300


def test_fractional_intervals_are_passed_as_seconds() -> None:
    watch = Watch(**{**_fields(WATCH), "interval": 90.5})
    command = fetcher_deployment(watch, SHARD, CONFIG)["spec"]["template"]["spec"][
        "containers"][0]["command"]
    assert command[-2:] == ["--interval", "90.5"]


def test_minimal_config_has_no_secret_refs_and_no_ports() -> None:
    config = OperatorConfig.from_env({"SPOTTER_FETCHER_IMAGE": "img:1"})
    container = fetcher_deployment(WATCH, SHARD, config)["spec"]["template"]["spec"][
        "containers"][0]
    assert container["env"] == [{"name": "SPOTTER_SHARD", "value": "team-a/gpu-fleet/1"}]
    assert "envFrom" not in container and "ports" not in container


def test_defaults_satisfy_the_restricted_pod_security_standard() -> None:
    config = OperatorConfig.from_env({"SPOTTER_FETCHER_IMAGE": "img:1"})
    pod = fetcher_deployment(WATCH, SHARD, config)["spec"]["template"]["spec"]
    container = pod["containers"][0]["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int)
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["readOnlyRootFilesystem"] is True


def test_paused_watch_scales_to_zero() -> None:
    watch = Watch(**{**_fields(WATCH), "paused": True})
    assert fetcher_deployment(watch, SHARD, CONFIG)["spec"]["replicas"] == 0


def test_selector_is_a_subset_of_the_pod_labels_and_excludes_managed_by() -> None:
    spec = fetcher_deployment(WATCH, SHARD, CONFIG)["spec"]
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()
    assert "app.kubernetes.io/managed-by" not in selector


def test_longest_name_fits_dns_label_limits() -> None:
    assert len(deployment_name("a" * 40, 33)) <= 63


def test_owned_selector_selects_the_labels() -> None:
    labels = fetcher_deployment(WATCH, SHARD, CONFIG)["metadata"]["labels"]
    for term in owned_selector("gpu-fleet").split(","):
        key, value = term.split("=")
        assert labels[key] == value


def test_shard_of_reads_back_the_shard() -> None:
    assert shard_of(fetcher_deployment(WATCH, SHARD, CONFIG)) == SHARD
    assert shard_of({"metadata": {"labels": {}}}) is None


def test_no_drift_for_the_desired_object() -> None:
    desired = fetcher_deployment(WATCH, SHARD, CONFIG)
    assert template_drift(desired, copy.deepcopy(desired)) == []


def test_drift_detects_an_added_env_var_and_a_changed_command() -> None:
    desired = fetcher_deployment(WATCH, SHARD, CONFIG)
    live = copy.deepcopy(desired)
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "FOO", "value": "bar"})
    container["command"][3] = "us-east-1"
    assert template_drift(desired, live) == [
        "spec.template.spec.containers[fetcher].command",
        "spec.template.spec.containers[fetcher].env",
    ]


def test_drift_detects_an_extra_container() -> None:
    desired = fetcher_deployment(WATCH, SHARD, CONFIG)
    live = copy.deepcopy(desired)
    live["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "x"})
    assert template_drift(desired, live) == ["spec.template.spec.containers"]


def _fields(watch: Watch) -> dict:
    return {name: getattr(watch, name) for name in Watch.__slots__}
