"""The fetcher Deployment of one shard, as a plain dict. Pure: the same inputs, the same bytes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from spotter.operator.config import OperatorConfig
from spotter.operator.planning import Shard
from spotter.operator.watch import API_VERSION, KIND, Watch

FIELD_MANAGER = "spotter-operator"
LABEL_WATCH = "spotter.dev/watch"
LABEL_SHARD = "spotter.dev/shard"
ANNOTATION_REGIONS = "spotter.dev/regions"
CONTAINER = "fetcher"


def deployment_name(watch_name: str, index: int) -> str:
    """`<watch>-fetcher-<index>`: at most 40 + 9 + 2 characters, a valid DNS label."""
    return f"{watch_name}-fetcher-{index}"


def owned_labels(watch_name: str) -> dict[str, str]:
    """Labels every child of one SpotWatch carries; pruning selects by these."""
    return {
        "app.kubernetes.io/name": "spotter",
        "app.kubernetes.io/component": "fetcher",
        "app.kubernetes.io/instance": watch_name,
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
        LABEL_WATCH: watch_name,
    }


def owned_selector(watch_name: str) -> str:
    """The label selector (text) of every child of one SpotWatch."""
    return ",".join(f"{k}={v}" for k, v in sorted(owned_labels(watch_name).items()))


def pod_selector(watch_name: str, index: int) -> dict[str, str]:
    """Stable labels only: a Deployment's selector can never change."""
    return {
        "app.kubernetes.io/name": "spotter",
        "app.kubernetes.io/component": "fetcher",
        "app.kubernetes.io/instance": watch_name,
        LABEL_WATCH: watch_name,
        LABEL_SHARD: str(index),
    }


def format_seconds(seconds: float) -> str:
    """`300` for 300.0, `90.5` for 90.5: what `spotter fetch --interval` reads as seconds."""
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


def fetcher_command(watch: Watch, shard: Shard) -> list[str]:
    return [
        "spotter",
        "fetch",
        "--regions",
        ",".join(shard.regions),
        "--instance-types",
        ",".join(watch.instance_types),
        "--products",
        ",".join(watch.products),
        "--interval",
        format_seconds(watch.interval),
    ]


def fetcher_env(config: OperatorConfig) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in config.passthrough]
    if config.redis_secret_name:
        env.append({
            "name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {
                "name": config.redis_secret_name, "key": config.redis_secret_key,
            }},
        })
    return env


def owner_reference(watch: Watch) -> dict[str, Any]:
    # No blockOwnerDeletion: it would need `update` on spotwatches/finalizers where the
    # OwnerReferencesPermissionEnforcement admission plugin runs, and buys nothing here.
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": watch.name,
        "uid": watch.uid,
        "controller": True,
    }


def fetcher_deployment(watch: Watch, shard: Shard, config: OperatorConfig) -> dict[str, Any]:
    """The complete desired Deployment for `shard` of `watch` (an apply configuration)."""
    name = deployment_name(watch.name, shard.index)
    labels = {**owned_labels(watch.name), LABEL_SHARD: str(shard.index)}
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": config.fetcher_image,
        "imagePullPolicy": config.pull_policy,
        "command": fetcher_command(watch, shard),
        # The shard's name on every fetcher log line (spotter.logs reads SPOTTER_SHARD).
        "env": [
            *fetcher_env(config),
            {"name": "SPOTTER_SHARD", "value": f"{watch.namespace}/{watch.name}/{shard.index}"},
        ],
        "resources": copy.deepcopy(dict(config.resources)),
        "securityContext": copy.deepcopy(dict(config.security_context)),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if config.aws_secret_name:
        container["envFrom"] = [{"secretRef": {"name": config.aws_secret_name}}]
    if config.metrics_port:
        container["ports"] = [
            {"name": "metrics", "containerPort": config.metrics_port, "protocol": "TCP"}
        ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": watch.namespace,
            "labels": labels,
            "annotations": {ANNOTATION_REGIONS: ",".join(shard.regions)},
            "ownerReferences": [owner_reference(watch)],
        },
        "spec": {
            "replicas": 0 if watch.paused else 1,
            # One fetcher per shard at a time; the Redis region lock would dedupe a second
            # one anyway, but there is no reason to run it.
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": pod_selector(watch.name, shard.index)},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": config.service_account,
                    "automountServiceAccountToken": False,  # fetchers never call the API
                    "securityContext": copy.deepcopy(dict(config.pod_security_context)),
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def shard_of(deployment: Mapping[str, Any]) -> Shard | None:
    """The shard a live fetcher Deployment was made for, from its label and annotation."""
    meta = deployment.get("metadata") or {}
    index = (meta.get("labels") or {}).get(LABEL_SHARD, "")
    regions = (meta.get("annotations") or {}).get(ANNOTATION_REGIONS)
    if not index.isdigit() or regions is None:
        return None
    return Shard(int(index), tuple(r for r in regions.split(",") if r))


_CONTAINER_FIELDS = ("image", "imagePullPolicy", "command", "args", "env", "envFrom")


def template_drift(desired: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """Fields of the fetcher container (and pod) where `live` differs from `desired`.

    Server-side apply restores fields the operator owns; this catches what it cannot: an env
    var or argument someone else added, which apply leaves alone as theirs.
    """
    want = desired["spec"]["template"]["spec"]
    have = (live.get("spec") or {}).get("template", {}).get("spec", {})
    drift = [
        f"spec.template.spec.{key}"
        for key in ("serviceAccountName",)
        if want.get(key) != have.get(key)
    ]
    want_c = want["containers"][0]
    have_cs = [c for c in have.get("containers", []) if c.get("name") == CONTAINER]
    if len(have.get("containers", [])) != 1 or not have_cs:
        return [*drift, "spec.template.spec.containers"]
    for key in _CONTAINER_FIELDS:
        if (want_c.get(key) or None) != (have_cs[0].get(key) or None):
            drift.append(f"spec.template.spec.containers[{CONTAINER}].{key}")
    return drift
