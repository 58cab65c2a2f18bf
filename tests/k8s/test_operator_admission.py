"""The SpotWatch CRD in the real API server: malformed specs refused, defaults, status kept."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from test_operator_support import spotwatch

from spotter.model import RegionStatus
from spotter.operator.kube import Kube
from spotter.operator.planning import Shard
from spotter.operator.status import Observation, build_status
from spotter.operator.watch import Watch
from support.controlplane import ControlPlane

pytestmark = pytest.mark.k8s

TYPES = ["t3.micro"]

# (case id, spec, text the API server's message must contain: the field it names)
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("no-types", {}, "spec.instanceTypes: Required value"),
    ("empty-types", {"instanceTypes": []}, "spec.instanceTypes"),
    ("uppercase-type", {"instanceTypes": ["T3.MICRO"]}, "spec.instanceTypes[0]"),
    ("type-without-size", {"instanceTypes": ["t3micro"]}, "spec.instanceTypes[0]"),
    ("duplicate-types", {"instanceTypes": ["t3.micro", "t3.micro"]},
     'spec.instanceTypes[1]: Duplicate value: "t3.micro"'),
    ("too-many-types", {"instanceTypes": [f"m{i}.large" for i in range(201)]},
     "spec.instanceTypes"),
    ("interval-10s", {"instanceTypes": TYPES, "interval": "10s"}, "spec.interval"),
    ("interval-25h", {"instanceTypes": TYPES, "interval": "25h"}, "spec.interval"),
    ("interval-words", {"instanceTypes": TYPES, "interval": "5 minutes"}, "spec.interval"),
    ("interval-number", {"instanceTypes": TYPES, "interval": 300}, "spec.interval"),
    ("unknown-product", {"instanceTypes": TYPES, "products": ["Linux"]}, "spec.products[0]"),
    ("vpc-product-form", {"instanceTypes": TYPES, "products": ["Linux/UNIX (Amazon VPC)"]},
     "spec.products[0]"),
    ("duplicate-products", {"instanceTypes": TYPES, "products": ["Windows", "Windows"]},
     "spec.products[1]"),
    ("no-products", {"instanceTypes": TYPES, "products": []}, "spec.products"),
    ("bad-region", {"instanceTypes": TYPES, "regions": ["US-EAST-1"]}, "spec.regions[0]"),
    ("zone-as-region", {"instanceTypes": TYPES, "regions": ["us-east-1a"]}, "spec.regions[0]"),
    ("duplicate-regions", {"instanceTypes": TYPES, "regions": ["us-east-1", "us-east-1"]},
     "spec.regions[1]"),
    ("regions-per-shard-0", {"instanceTypes": TYPES, "regionsPerShard": 0},
     "spec.regionsPerShard"),
    ("regions-per-shard-35", {"instanceTypes": TYPES, "regionsPerShard": 35},
     "spec.regionsPerShard"),
    ("shard-larger-than-regions",
     {"instanceTypes": TYPES, "regions": ["us-east-1", "eu-west-1"], "regionsPerShard": 9},
     "spec.regionsPerShard"),
    ("unknown-field", {"instanceTypes": TYPES, "regionz": ["us-east-1"]}, "spec.regionz"),
]


@pytest.mark.parametrize(("case", "spec", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_spotwatch_is_rejected_by_the_api_server_naming_the_field(
    kube_control_plane: ControlPlane, namespace: str, case: str, spec: dict[str, Any], field: str
) -> None:
    # Straight to the API server (no kubectl-side checks): the server itself must refuse.
    cp = kube_control_plane
    url = f"{cp.server}/apis/spotter.dev/v1alpha1/namespaces/{namespace}/spotwatches"
    response = cp.admin_session().post(url, params={"fieldValidation": "Strict"},
                                       json=spotwatch(case, namespace, **spec), timeout=30)
    assert response.status_code in (400, 422), f"{case} was accepted: {response.status_code}"
    assert field in response.json()["message"], response.json()["message"]
    assert cp.kubectl("get", "sw", case, "-n", namespace, check=False).returncode != 0


def test_a_name_too_long_for_child_names_is_rejected(
    kube_control_plane: ControlPlane, namespace: str
) -> None:
    manifest = yaml.safe_dump(spotwatch("x" * 41, namespace, instanceTypes=TYPES))
    result = kube_control_plane.kubectl("create", "-f", "-", input=manifest, check=False)
    assert result.returncode != 0
    assert "metadata.name" in result.stderr and "40" in result.stderr


def test_defaults_are_filled_in_by_the_api_server(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube
) -> None:
    kube_control_plane.apply(spotwatch("defaults", namespace, instanceTypes=TYPES))
    body = kube.get_watch(namespace, "defaults")
    assert body is not None
    assert body["spec"] == {"instanceTypes": TYPES, "products": ["Linux/UNIX"], "regions": [],
                            "interval": "5m", "regionsPerShard": 4, "paused": False}
    assert Watch.from_body(body).interval == 300


@pytest.mark.parametrize("interval", ["1m", "60s", "1h30m", "1.5h", "24h"])
def test_valid_intervals_are_accepted(
    kube_control_plane: ControlPlane, namespace: str, interval: str
) -> None:
    name = "iv-" + interval.replace(".", "-")
    kube_control_plane.apply(spotwatch(name, namespace, instanceTypes=TYPES, interval=interval))


def test_every_status_field_survives_a_round_trip(
    kube_control_plane: ControlPlane, namespace: str, kube: Kube
) -> None:
    kube_control_plane.apply(spotwatch("roundtrip", namespace, instanceTypes=TYPES,
                                       regions=["us-east-1", "eu-west-1", "ap-east-1"],
                                       regionsPerShard=2))
    body = kube.get_watch(namespace, "roundtrip")
    assert body is not None
    watch = Watch.from_body(body)
    now = 1_700_000_000.0
    status = build_status(watch, Observation(
        shards=[Shard(0, ("eu-west-1", "us-east-1")), Shard(1, ("ap-east-1",))],
        deployments={"roundtrip-fetcher-0": {"metadata": {"generation": 1},
                                             "spec": {"replicas": 1},
                                             "status": {"readyReplicas": 1,
                                                        "observedGeneration": 1}}},
        regions={
            "us-east-1": RegionStatus("us-east-1", "ok", now - 20, now - 20, quotes=12),
            "eu-west-1": RegionStatus("eu-west-1", "throttled", now - 900, now - 5,
                                      "throttled", "RequestLimitExceeded", now - 5, 9),
            "ap-east-1": RegionStatus("ap-east-1", "not_enabled", None, now - 5, "not_enabled",
                                      "OptInRequired", now - 5),
        },
        catalog={"ap-east-1": "not-opted-in"}, now=now,
    ))
    kopf_state = {"progress": {"reconcile": {"retries": 2, "started": "2024-01-01T00:00:00Z",
                                             "message": "anything kopf keeps"}}}
    kube.patch_watch_status(namespace, "roundtrip", {**status, "kopf": kopf_state})

    stored = kube.get_watch(namespace, "roundtrip")
    assert stored is not None
    expected = {k: v for k, v in status.items() if v is not None}
    assert {k: v for k, v in stored["status"].items() if k != "kopf"} == expected
    assert stored["status"]["kopf"] == kopf_state
    # nothing a spec reader sees changed: the generation is the spec's, not the status's
    assert stored["metadata"]["generation"] == body["metadata"]["generation"]
    raw = kube_control_plane.kubectl("get", "sw", "roundtrip", "-n", namespace, "-o", "json")
    assert json.loads(raw.stdout)["status"]["regions"]["eu-west-1"]["lastError"] == (
        "throttled: RequestLimitExceeded")
