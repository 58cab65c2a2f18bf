"""DescribeRegions and DescribeAvailabilityZones through real boto3, and regions not enabled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from spotter.replay.server import ReplayServer

Client = Callable[..., Any]
ServerFactory = Callable[..., ReplayServer]


def _regions(client: Any, **request: Any) -> dict[str, str]:
    return {
        r["RegionName"]: r["OptInStatus"] for r in client.describe_regions(**request)["Regions"]
    }


def test_describe_regions_lists_the_enabled_regions(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    regions = _regions(replay_client(replay_server))
    assert sorted(regions) == list(replay_server.dataset.regions)
    assert set(regions.values()) == {"opt-in-not-required"}


def test_all_regions_adds_the_commercial_regions_not_opted_in(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    regions = _regions(replay_client(replay_server), AllRegions=True)
    assert len(regions) == 34
    enabled = {name for name, status in regions.items() if status == "opt-in-not-required"}
    assert enabled == set(replay_server.dataset.regions)
    assert regions["af-south-1"] == regions["mx-central-1"] == "not-opted-in"


def test_region_names_and_filters_narrow_describe_regions(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server)
    asked = _regions(client, RegionNames=["eu-west-1", "il-central-1"])
    assert asked == {"eu-west-1": "opt-in-not-required", "il-central-1": "not-opted-in"}
    opt_in = [{"Name": "opt-in-status", "Values": ["not-opted-in"]}]
    assert len(_regions(client, AllRegions=True, Filters=opt_in)) == 17
    endpoint = client.describe_regions(RegionNames=["us-west-2"])["Regions"][0]["Endpoint"]
    assert endpoint == "ec2.us-west-2.amazonaws.com"
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        client.describe_regions(RegionNames=["moon-base-1"])


def test_not_enabled_regions_are_not_opted_in_and_refuse_calls(
    replay_client: Client, replay_server_factory: ServerFactory
) -> None:
    server = replay_server_factory(
        not_enabled_regions={"eu-west-3"}, not_enabled_code="OptInRequired"
    )
    regions = _regions(replay_client(server), AllRegions=True)
    assert regions["eu-west-3"] == "not-opted-in"
    assert "eu-west-3" not in _regions(replay_client(server))
    with pytest.raises(ClientError) as caught:
        replay_client(server, "eu-west-3").describe_spot_price_history()
    assert caught.value.response["Error"]["Code"] == "OptInRequired"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


@pytest.mark.parametrize("region", ["af-south-1", "me-central-1", "cn-north-1"])
def test_a_region_without_recorded_prices_is_not_enabled(
    replay_client: Client, replay_server: ReplayServer, region: str
) -> None:
    for call in ("describe_spot_price_history", "describe_regions", "describe_availability_zones"):
        with pytest.raises(ClientError) as caught:
            getattr(replay_client(replay_server, region), call)()
        assert caught.value.response["Error"]["Code"] == "AuthFailure"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def test_availability_zones_map_names_and_ids_of_the_callers_region(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    zones = replay_client(replay_server, "us-east-2").describe_availability_zones()
    # The same three zones as the real recorded response in amazon-ec2-instance-selector.
    assert [
        (z["ZoneName"], z["ZoneId"], z["RegionName"], z["State"], z["ZoneType"])
        for z in zones["AvailabilityZones"]
    ] == [
        ("us-east-2a", "use2-az1", "us-east-2", "available", "availability-zone"),
        ("us-east-2b", "use2-az2", "us-east-2", "available", "availability-zone"),
        ("us-east-2c", "use2-az3", "us-east-2", "available", "availability-zone"),
    ]


def test_every_zone_in_the_price_history_is_described_with_the_same_id(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    for region in ("us-east-1", "ap-northeast-1", "eu-central-1"):
        client = replay_client(replay_server, region)
        described = {
            z["ZoneName"]: z["ZoneId"]
            for z in client.describe_availability_zones()["AvailabilityZones"]
        }
        prices = client.describe_spot_price_history(MaxResults=1000)["SpotPriceHistory"]
        seen = {r["AvailabilityZone"]: r["AvailabilityZoneId"] for r in prices}
        assert seen and seen.items() <= described.items()


def test_zone_names_ids_and_filters_narrow_the_zones(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server, "eu-west-1")

    def names(**request: Any) -> list[str]:
        return [
            z["ZoneName"]
            for z in client.describe_availability_zones(**request)["AvailabilityZones"]
        ]

    assert names(ZoneNames=["eu-west-1b"]) == ["eu-west-1b"]
    zone_c = client.describe_availability_zones(ZoneNames=["eu-west-1c"])["AvailabilityZones"]
    zone_id = zone_c[0]["ZoneId"]
    assert names(ZoneIds=[zone_id]) == ["eu-west-1c"]
    assert names(Filters=[{"Name": "zone-name", "Values": ["*a"]}]) == ["eu-west-1a"]
    with pytest.raises(ClientError, match="InvalidParameterValue"):
        client.describe_availability_zones(ZoneNames=["us-east-1a"])
