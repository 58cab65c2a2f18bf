"""The commercial regions and zones the replay endpoint knows, from its bundled JSON files.

Zone names are per-account aliases; the bundled ones are one plausible assignment (see data/README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class Zone:
    """One availability zone: its account-specific name and its global id."""

    name: str
    zone_id: str
    region: str


@dataclass(frozen=True, slots=True)
class RegionInfo:
    """One commercial region and the ids of its availability zones."""

    name: str
    long_name: str
    zone_ids: tuple[str, ...]


class Catalog:
    """Lookups over the bundled region list and zone-id-to-name table."""

    def __init__(self, regions: list[RegionInfo], zones: list[Zone]) -> None:
        self.regions: tuple[RegionInfo, ...] = tuple(sorted(regions, key=lambda r: r.name))
        self.region_names: frozenset[str] = frozenset(r.name for r in regions)
        self._by_id = {z.zone_id: z for z in zones}
        self._by_name = {(z.region, z.name): z for z in zones}

    def zone_by_id(self, zone_id: str) -> Zone | None:
        return self._by_id.get(zone_id)

    def zone_by_name(self, region: str, name: str) -> Zone | None:
        return self._by_name.get((region, name))

    def zones_of(self, region: str) -> list[Zone]:
        """The named zones of `region`, by name (legacy ids with no name are left out)."""
        return sorted((z for z in self._by_id.values() if z.region == region), key=lambda z: z.name)


def _read_json(name: str) -> dict:
    data = resources.files("spotter.replay").joinpath("data").joinpath(name)
    return json.loads(data.read_text("utf-8"))


@cache
def load_catalog() -> Catalog:
    """The bundled catalog (read once per process; it is immutable)."""
    regions = [
        RegionInfo(r["RegionName"], r["LongName"], tuple(r["ZoneIds"]))
        for r in _read_json("regions.json")["regions"]
    ]
    zones = [
        Zone(z["ZoneName"], zone_id, z["Region"])
        for zone_id, z in _read_json("zones.json")["zones"].items()
    ]
    return Catalog(regions, zones)
