"""DescribeRegions and DescribeAvailabilityZones, from the bundled catalog and the dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spotter.replay import wire
from spotter.replay.wire import ApiError

if TYPE_CHECKING:
    from spotter.replay.service import ReplayService

OPT_IN_NOT_REQUIRED = "opt-in-not-required"
NOT_OPTED_IN = "not-opted-in"
_ZONE_FILTERS = (
    "zone-name",
    "zone-id",
    "region-name",
    "state",
    "zone-type",
    "opt-in-status",
    "group-name",
    "network-border-group",
)


def describe_regions(service: ReplayService, region: str, params: dict[str, Any]) -> str:
    """Enabled regions; with AllRegions every commercial region and its OptInStatus."""
    known = sorted(service.catalog.region_names | set(service.dataset.regions))
    asked = wire.text_list(params, "RegionName")
    for name in asked or ():
        if name not in known:
            raise ApiError("InvalidParameterValue", f"Invalid region: {name}")
    everything = wire.boolean(params, "AllRegions")
    filters = _checked(wire.filters(params), ("region-name", "endpoint", "opt-in-status"))
    if wire.boolean(params, "DryRun"):
        raise ApiError("DryRunOperation")
    items = []
    for name in known:
        status = OPT_IN_NOT_REQUIRED if service.enabled(name) else NOT_OPTED_IN
        if asked is not None:
            if name not in asked:
                continue
        elif not everything and status == NOT_OPTED_IN:
            continue
        endpoint = f"ec2.{name}.amazonaws.com"
        fields = {"region-name": name, "endpoint": endpoint, "opt-in-status": status}
        if not _passes(filters, fields):
            continue
        items.append(
            "<item>"
            f"{wire.element('regionName', name)}{wire.element('regionEndpoint', endpoint)}"
            f"{wire.element('optInStatus', status)}"
            "</item>"
        )
    return f"<regionInfo>{''.join(items)}</regionInfo>"


def describe_availability_zones(service: ReplayService, region: str, params: dict[str, Any]) -> str:
    """The caller's region's zones: names, ids, state and type."""
    zones = service.zones_of(region)
    names = wire.text_list(params, "ZoneName")
    ids = wire.text_list(params, "ZoneId")
    for name in names or ():
        if name not in zones:
            raise ApiError("InvalidParameterValue", f"Invalid availability zone: [{name}]")
    for zone_id in ids or ():
        if zone_id not in zones.values():
            raise ApiError("InvalidParameterValue", f"Invalid availability zone ID: [{zone_id}]")
    wire.boolean(params, "AllAvailabilityZones")  # only regular zones are known: nothing to add
    filters = _checked(wire.filters(params), _ZONE_FILTERS)
    if wire.boolean(params, "DryRun"):
        raise ApiError("DryRunOperation")
    items = []
    for name, zone_id in sorted(zones.items()):
        if (names is not None or ids is not None) and not (
            name in (names or ()) or zone_id in (ids or ())
        ):
            continue
        fields = {
            "zone-name": name,
            "zone-id": zone_id or "",
            "region-name": region,
            "state": "available",
            "zone-type": "availability-zone",
            "opt-in-status": OPT_IN_NOT_REQUIRED,
            "group-name": region,
            "network-border-group": region,
        }
        if _passes(filters, fields):
            items.append(_zone_item(name, zone_id, region))
    return f"<availabilityZoneInfo>{''.join(items)}</availabilityZoneInfo>"


def _zone_item(name: str, zone_id: str | None, region: str) -> str:
    return (
        "<item>"
        f"{wire.element('zoneName', name)}{wire.element('zoneId', zone_id)}"
        f"{wire.element('zoneState', 'available')}{wire.element('regionName', region)}"
        f"{wire.element('groupName', region)}{wire.element('networkBorderGroup', region)}"
        f"{wire.element('optInStatus', OPT_IN_NOT_REQUIRED)}"
        f"{wire.element('zoneType', 'availability-zone')}<messageSet/>"
        "</item>"
    )


def _checked(filters: list[tuple[str, list[str]]], known: tuple[str, ...]) -> list:
    for name, _ in filters:
        if name not in known:
            raise ApiError("InvalidParameterValue", f"The filter '{name}' is invalid")
    return filters


def _passes(filters: list[tuple[str, list[str]]], fields: dict[str, str]) -> bool:
    return all(wire.matches_any(values, fields[name]) for name, values in filters)
