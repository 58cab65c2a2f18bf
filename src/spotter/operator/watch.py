"""A SpotWatch read into a typed, validated value (the CRD's rules, checked once more in Python).

The API server already rejects malformed specs; this guards against an older CRD in the cluster
and gives the pure builders a typed input instead of a raw dict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spotter.model import DEFAULT_PRODUCT, PRODUCTS, is_valid_instance_type, is_valid_region

GROUP = "spotter.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "SpotWatch"
PLURAL = "spotwatches"
CRD_NAME = f"{PLURAL}.{GROUP}"

MIN_INTERVAL = 60.0
MAX_INTERVAL = 86400.0
MAX_TYPES = 200
MAX_REGIONS_PER_SHARD = 34
DEFAULT_REGIONS_PER_SHARD = 4
DEFAULT_INTERVAL = "5m"
MAX_NAME_LENGTH = 40

_DURATION_RE = re.compile(r"^(?:[0-9]+(?:\.[0-9]+)?[hms])+$")
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)([hms])")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


class SpecError(ValueError):
    """A SpotWatch spec that retrying cannot fix; the message names the field."""


def parse_interval(text: str) -> float:
    """Seconds from a Go-style duration as the CRD accepts it: `5m`, `300s`, `1h30m`, `1.5h`."""
    if not isinstance(text, str) or not _DURATION_RE.match(text):
        raise SpecError(f"spec.interval: {text!r} is not a duration like 5m, 300s or 1h30m")
    return sum(float(n) * _UNIT[unit] for n, unit in _DURATION_PART.findall(text))


@dataclass(frozen=True, slots=True)
class Watch:
    """What one SpotWatch asks for, plus the identity its children point back to."""

    name: str
    namespace: str
    uid: str
    generation: int
    instance_types: tuple[str, ...]
    products: tuple[str, ...] = (DEFAULT_PRODUCT,)
    regions: tuple[str, ...] = ()  # empty: every region enabled for the account
    interval: float = 300.0
    regions_per_shard: int = DEFAULT_REGIONS_PER_SHARD
    paused: bool = False

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Watch:
        """Read a SpotWatch object (as the API server returns it); raises SpecError."""
        meta = body.get("metadata") or {}
        spec = body.get("spec") or {}
        name = str(meta.get("name") or "")
        if not name or len(name) > MAX_NAME_LENGTH:
            raise SpecError(f"metadata.name: {name!r} must be 1-{MAX_NAME_LENGTH} characters")
        types = _string_list(spec, "instanceTypes", None)
        if not 1 <= len(types) <= MAX_TYPES:
            raise SpecError(f"spec.instanceTypes: need 1-{MAX_TYPES} types, got {len(types)}")
        for item in types:
            if not is_valid_instance_type(item):
                raise SpecError(f"spec.instanceTypes: {item!r} is not an instance type")
        products = _string_list(spec, "products", [DEFAULT_PRODUCT])
        for item in products:
            if item not in PRODUCTS:
                raise SpecError(f"spec.products: {item!r} is not one of {', '.join(PRODUCTS)}")
        if not products:
            raise SpecError("spec.products: at least one product is needed")
        regions = _string_list(spec, "regions", [])
        for item in regions:
            if not is_valid_region(item):
                raise SpecError(f"spec.regions: {item!r} is not a region code")
        interval = parse_interval(spec.get("interval", DEFAULT_INTERVAL))
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise SpecError("spec.interval: must be between 1m and 24h")
        per_shard = spec.get("regionsPerShard", DEFAULT_REGIONS_PER_SHARD)
        if (
            not isinstance(per_shard, int)
            or isinstance(per_shard, bool)
            or not 1 <= per_shard <= MAX_REGIONS_PER_SHARD
        ):
            raise SpecError(
                f"spec.regionsPerShard: {per_shard!r} is not 1..{MAX_REGIONS_PER_SHARD}"
            )
        return cls(
            name=name,
            namespace=str(meta.get("namespace") or ""),
            uid=str(meta.get("uid") or ""),
            generation=int(meta.get("generation") or 0),
            instance_types=tuple(dict.fromkeys(types)),
            products=tuple(dict.fromkeys(products)),
            regions=tuple(sorted(set(regions))),
            interval=interval,
            regions_per_shard=per_shard,
            paused=bool(spec.get("paused", False)),
        )


def _string_list(spec: Mapping[str, Any], key: str, default: list[str] | None) -> list[str]:
    value = spec.get(key, default)
    if value is None:
        raise SpecError(f"spec.{key}: required")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SpecError(f"spec.{key}: must be a list of strings")
    return value
