"""The CRD agrees with the Python that reads and writes SpotWatches; RBAC agrees with preflight."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from spotter.model import INSTANCE_TYPE_MAX_LEN, INSTANCE_TYPE_RE, PRODUCTS, REGION_RE, RegionStatus
from spotter.operator import preflight
from spotter.operator.planning import Shard
from spotter.operator.status import Observation, build_status
from spotter.operator.watch import (
    CRD_NAME,
    DEFAULT_INTERVAL,
    DEFAULT_REGIONS_PER_SHARD,
    MAX_NAME_LENGTH,
    MAX_REGIONS_PER_SHARD,
    MAX_TYPES,
    Watch,
)

ROOT = Path(__file__).resolve().parents[2]
CRD = yaml.safe_load((ROOT / "crds" / f"{CRD_NAME}.yaml").read_text())
VERSION = CRD["spec"]["versions"][0]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]
SPEC = SCHEMA["properties"]["spec"]["properties"]
STATUS = SCHEMA["properties"]["status"]


def test_names() -> None:
    assert CRD["metadata"]["name"] == CRD_NAME
    names = CRD["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == (
        "SpotWatch", "spotwatches", ["sw"])
    assert CRD["spec"]["scope"] == "Namespaced"
    assert VERSION["name"] == "v1alpha1" and VERSION["subresources"] == {"status": {}}


def test_patterns_and_enums_match_the_model() -> None:
    assert SPEC["instanceTypes"]["items"]["pattern"] == INSTANCE_TYPE_RE.pattern
    assert SPEC["instanceTypes"]["items"]["maxLength"] == INSTANCE_TYPE_MAX_LEN
    assert SPEC["regions"]["items"]["pattern"] == REGION_RE.pattern
    assert tuple(SPEC["products"]["items"]["enum"]) == PRODUCTS


def test_bounds_and_defaults_match_the_operator() -> None:
    assert SPEC["instanceTypes"]["maxItems"] == MAX_TYPES
    assert SPEC["regionsPerShard"]["maximum"] == MAX_REGIONS_PER_SHARD
    assert SPEC["regionsPerShard"]["default"] == DEFAULT_REGIONS_PER_SHARD
    assert SPEC["interval"]["default"] == DEFAULT_INTERVAL
    assert SCHEMA["properties"]["metadata"]["properties"]["name"]["maxLength"] == MAX_NAME_LENGTH
    for key in ("instanceTypes", "products", "regions"):
        assert SPEC[key]["x-kubernetes-list-type"] == "set"


def test_kopf_state_is_preserved() -> None:
    assert STATUS["properties"]["kopf"]["x-kubernetes-preserve-unknown-fields"] is True


def _undeclared(value: Any, schema: dict[str, Any], path: str) -> list[str]:
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if "properties" in schema:
                if key not in schema["properties"]:
                    found.append(f"{path}.{key}")
                    continue
                found += _undeclared(item, schema["properties"][key], f"{path}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += _undeclared(item, schema["additionalProperties"], f"{path}[{key}]")
            else:
                found.append(f"{path}.{key}")
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value)
                for p in _undeclared(item, schema.get("items", {}), f"{path}[{i}]")]
    return []


def test_every_status_field_the_operator_writes_is_declared() -> None:
    watch = Watch(name="w", namespace="n", uid="u", generation=1, instance_types=("t3.micro",))
    now = 1_700_000_000.0
    regions = {
        "us-east-1": RegionStatus("us-east-1", "error", now - 50, now - 1, "other", "boom",
                                  now - 1, 3, None),
    }
    status = build_status(watch, Observation(
        shards=[Shard(0, ("us-east-1",))],
        deployments={"w-fetcher-0": {"spec": {"replicas": 1}, "status": {"readyReplicas": 1}}},
        regions=regions, catalog={}, now=now))
    assert status["regions"]["us-east-1"].keys() == {
        "state", "lastSuccess", "ageSeconds", "quotes", "lastError", "lastErrorAt"}
    assert _undeclared(status, STATUS, "status") == []


def test_printer_columns_read_declared_fields() -> None:
    columns = {c["name"]: c["jsonPath"] for c in VERSION["additionalPrinterColumns"]}
    assert list(columns)[:7] == ["Types", "Regions", "Shards", "Freshest", "Oldest", "Ready",
                                 "Reason"]
    for path in columns.values():
        if path.startswith(".status.") and "[" not in path:
            assert path.removeprefix(".status.") in STATUS["properties"]


def test_rbac_file_grants_exactly_what_preflight_checks() -> None:
    rbac = yaml.safe_load((ROOT / "charts" / "spotter" / "files" / "operator-rbac.yaml")
                          .read_text())
    assert set(rbac) == {"framework", "application"}

    def expand(rules: list[dict[str, Any]]) -> list[preflight.Permission]:
        return [preflight.Permission(verb, group, resource)
                for rule in rules for group in rule["apiGroups"]
                for resource in rule["resources"] for verb in rule["verbs"]]

    assert expand(rbac["framework"]) == list(preflight.FRAMEWORK)
    assert expand(rbac["application"]) == list(preflight.APPLICATION)
