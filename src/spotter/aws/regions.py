"""Region discovery (DescribeRegions) and zone name <-> id maps (DescribeAvailabilityZones)."""

from __future__ import annotations

from botocore.client import BaseClient

from spotter.aws.client import ec2_client
from spotter.aws.errors import CALL_ERRORS, classify
from spotter.config import Settings

NOT_OPTED_IN = "not-opted-in"


def list_regions(client: BaseClient) -> dict[str, str]:
    """Every region the account can see, with its opt-in status."""
    try:
        response = client.describe_regions(AllRegions=True)
    except CALL_ERRORS as exc:
        raise classify(exc) from exc
    return {
        item["RegionName"]: item.get("OptInStatus", "opt-in-not-required")
        for item in response.get("Regions", [])
    }


def discover_regions(settings: Settings, *, region: str = "us-east-1") -> dict[str, str]:
    """Region -> opt-in status, asked of `region`'s endpoint. Never a hard-coded list."""
    return list_regions(ec2_client(settings, region))


def enabled(statuses: dict[str, str]) -> list[str]:
    return sorted(name for name, status in statuses.items() if status != NOT_OPTED_IN)


def zone_ids(client: BaseClient, region: str) -> dict[str, str]:
    """Zone name -> zone id for `region`, including Local and Wavelength zones."""
    try:
        response = client.describe_availability_zones(AllAvailabilityZones=True)
    except CALL_ERRORS as exc:
        raise classify(exc, region) from exc
    return {
        item["ZoneName"]: item["ZoneId"]
        for item in response.get("AvailabilityZones", [])
        if item.get("RegionName", region) == region and "ZoneId" in item
    }
