"""DescribeSpotPriceHistory through real boto3: paging, windows, clock, filters and routing."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from spotter.replay.server import ReplayServer

ServerFactory = Callable[..., ReplayServer]
Client = Callable[..., Any]


# The end of the recorded window, and one real series that changed three times in it:
# sa-east-1 c5ad.16xlarge sa-east-1a Linux/UNIX
#   23:05:26 1.358800, 23:05:31 1.347400, 23:06:31 1.358800.
END = datetime(2022, 5, 31, 23, 59, 47, tzinfo=UTC)
SERIES = {"InstanceTypes": ["c5ad.16xlarge"], "ProductDescriptions": ["Linux/UNIX"]}
SA_EAST_1A = {**SERIES, "AvailabilityZone": "sa-east-1a"}


def _all_pages(client: Any, **request: Any) -> tuple[list[dict], list[dict]]:
    """Every record and every raw page, following NextToken to the end."""
    records, pages = [], []
    while True:
        page = client.describe_spot_price_history(**request)
        pages.append(page)
        records += page["SpotPriceHistory"]
        if not page.get("NextToken"):
            return records, pages
        request["NextToken"] = page["NextToken"]


def _key(record: dict) -> tuple:
    return (
        record["InstanceType"],
        record["AvailabilityZone"],
        record["ProductDescription"],
        record["Timestamp"],
        record["SpotPrice"],
    )


def _error(call: Any, **request: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**request)
    return caught.value


def test_following_tokens_to_the_end_equals_one_big_page(
    replay_client: Client,
    replay_server: ReplayServer,
    replay_server_factory: ServerFactory,
) -> None:
    big = replay_client(replay_server_factory(page_size=10_000)).describe_spot_price_history()
    assert big["NextToken"] == "" and len(big["SpotPriceHistory"]) == 5637
    records, pages = _all_pages(replay_client(replay_server), MaxResults=700)
    assert [len(p["SpotPriceHistory"]) for p in pages] == [700] * 8 + [37]
    assert pages[-1]["NextToken"] == ""
    assert [_key(r) for r in records] == [_key(r) for r in big["SpotPriceHistory"]]
    assert replay_server.calls.count("DescribeSpotPriceHistory", "us-east-1", "ok") == 9


def test_max_results_never_exceeds_the_page_size(
    replay_client: Client, replay_server_factory: ServerFactory
) -> None:
    client = replay_client(replay_server_factory(page_size=250))
    assert len(client.describe_spot_price_history(MaxResults=5000)["SpotPriceHistory"]) == 250
    assert len(client.describe_spot_price_history(MaxResults=5)["SpotPriceHistory"]) == 5
    assert len(client.describe_spot_price_history()["SpotPriceHistory"]) == 250


def test_records_come_newest_first(replay_client: Client, replay_server: ReplayServer) -> None:
    records, _ = _all_pages(replay_client(replay_server, "eu-west-1"))
    stamps = [r["Timestamp"] for r in records]
    assert stamps == sorted(stamps, reverse=True)


def test_the_botocore_paginator_reads_every_page(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server, "ap-south-1")
    paginator = client.get_paginator("describe_spot_price_history")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 300}))
    assert len(pages) > 1
    total = sum(len(p["SpotPriceHistory"]) for p in pages)
    assert total == len(replay_server.dataset.query("ap-south-1"))


def test_garbage_and_foreign_tokens_are_invalid(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server)
    error = _error(client.describe_spot_price_history, NextToken="not-a-token")
    assert error.response["Error"]["Code"] == "InvalidNextToken"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    token = client.describe_spot_price_history(MaxResults=10)["NextToken"]
    other_query = _error(
        client.describe_spot_price_history, NextToken=token, InstanceTypes=["m5.large"]
    )
    assert other_query.response["Error"]["Code"] == "InvalidNextToken"
    other_region = _error(
        replay_client(replay_server, "us-west-2").describe_spot_price_history, NextToken=token
    )
    assert other_region.response["Error"]["Code"] == "InvalidNextToken"


def test_start_time_now_returns_one_current_record_per_series(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    now = datetime.now(UTC)
    records, _ = _all_pages(replay_client(replay_server), StartTime=now)
    series = {_key(r)[:3] for r in replay_server_records(replay_server, "us-east-1")}
    assert len(records) == len(series) == len({_key(r)[:3] for r in records})
    for record in records:
        assert record["Timestamp"] <= END


def replay_server_records(server: ReplayServer, region: str) -> list[dict]:
    return [
        {
            "InstanceType": r.instance_type,
            "AvailabilityZone": r.zone,
            "ProductDescription": r.product_description,
            "Timestamp": r.timestamp,
            "SpotPrice": r.spot_price,
        }
        for r in server.dataset.query(region)
    ]


def test_the_frozen_clock_serves_the_latest_recorded_price(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server, "sa-east-1")
    found = client.describe_spot_price_history(StartTime=datetime.now(UTC), **SA_EAST_1A)
    assert [(r["SpotPrice"], r["Timestamp"].isoformat()) for r in found["SpotPriceHistory"]] == [
        ("1.358800", "2022-05-31T23:06:31+00:00")
    ]


def test_a_clock_in_the_middle_serves_the_price_in_force_then(
    replay_client: Client,
    replay_server_factory: ServerFactory,
) -> None:
    clock = datetime(2022, 5, 31, 23, 6, tzinfo=UTC)
    client = replay_client(replay_server_factory(clock=clock), "sa-east-1")
    found = client.describe_spot_price_history(StartTime=datetime.now(UTC), **SA_EAST_1A)
    assert [r["SpotPrice"] for r in found["SpotPriceHistory"]] == ["1.347400"]
    everything, _ = _all_pages(client)
    assert max(r["Timestamp"] for r in everything) <= clock


def test_a_window_includes_the_last_change_before_its_start(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server, "sa-east-1")
    found = client.describe_spot_price_history(
        StartTime=datetime(2022, 5, 31, 23, 5, 40, tzinfo=UTC),
        EndTime=datetime(2022, 5, 31, 23, 7, tzinfo=UTC),
        **SA_EAST_1A,
    )
    assert [r["SpotPrice"] for r in found["SpotPriceHistory"]] == ["1.358800", "1.347400"]
    early = client.describe_spot_price_history(
        EndTime=datetime(2022, 5, 31, 23, 5, 28, tzinfo=UTC), **SA_EAST_1A
    )
    assert [r["SpotPrice"] for r in early["SpotPriceHistory"]] == ["1.358800"]


def test_the_last_real_hour_means_the_last_replayed_hour(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server)
    hour, _ = _all_pages(client, StartTime=datetime.now(UTC) - timedelta(hours=1))
    now, _ = _all_pages(client, StartTime=datetime.now(UTC))
    assert len(hour) > len(now)
    # Per series: changes inside the replayed hour, plus the one in force at its start.
    series: dict[tuple, list[datetime]] = {}
    for record in hour:
        series.setdefault(_key(record)[:3], []).append(record["Timestamp"])
    inside = [t for stamps in series.values() for t in sorted(stamps)[1:]]
    assert inside and min(inside) >= END - timedelta(hours=1, seconds=5)


def test_a_running_clock_reveals_later_records_and_pages_keep_their_snapshot(
    replay_client: Client,
    replay_server_factory: ServerFactory,
) -> None:
    start = datetime(2022, 5, 31, 22, 0, tzinfo=UTC)
    server = replay_server_factory(clock=start, speed=1800.0)
    client = replay_client(server)
    first, pages = _all_pages(client, MaxResults=500)
    assert len(pages) > 1 and len({_key(r) for r in first}) == len(first)
    stamps = [r["Timestamp"] for r in first]
    assert stamps == sorted(stamps, reverse=True)
    time.sleep(0.3)
    later, _ = _all_pages(client)
    assert len(later) > len(first)
    assert max(r["Timestamp"] for r in later) <= server.clock.now()


def test_both_product_forms_are_asked_and_the_recorded_form_answers(
    replay_client: Client,
    replay_server: ReplayServer,
) -> None:
    client = replay_client(replay_server)
    both = client.describe_spot_price_history(
        InstanceTypes=["m5.large"], ProductDescriptions=["Linux/UNIX", "Linux/UNIX (Amazon VPC)"]
    )["SpotPriceHistory"]
    assert both and {r["ProductDescription"] for r in both} == {"Linux/UNIX"}
    vpc_only = client.describe_spot_price_history(
        InstanceTypes=["m5.large"], ProductDescriptions=["Linux/UNIX (Amazon VPC)"]
    )
    assert vpc_only["SpotPriceHistory"] == []
    windows = client.describe_spot_price_history(
        InstanceTypes=["m5.large"], ProductDescriptions=["Windows"]
    )["SpotPriceHistory"]
    assert {r["ProductDescription"] for r in windows} <= {"Windows"}


@pytest.mark.parametrize(
    ("name", "values", "field", "expected"),
    [
        ("instance-type", ["c5ad.*"], "InstanceType", {"c5ad.16xlarge"}),
        ("availability-zone", ["sa-east-1?"], "AvailabilityZone", {"sa-east-1a", "sa-east-1b"}),
        ("product-description", ["SUSE*"], "ProductDescription", {"SUSE Linux"}),
        ("spot-price", ["1.3474"], "SpotPrice", {"1.347400"}),
        ("timestamp", ["2022-05-31T23:05:31.000Z"], "SpotPrice", {"1.347400", "1.495200"}),
    ],
)
def test_filters_select_records(
    replay_client: Client,
    replay_server: ReplayServer,
    name: str,
    values: list[str],
    field: str,
    expected: set[str],
) -> None:
    client = replay_client(replay_server, "sa-east-1")
    found = client.describe_spot_price_history(
        InstanceTypes=["c5ad.16xlarge"],
        ProductDescriptions=["Linux/UNIX", "SUSE Linux"],
        Filters=[{"Name": name, "Values": values}],
    )["SpotPriceHistory"]
    if name == "timestamp":
        found = [r for r in found if r["ProductDescription"] == "Linux/UNIX"]
    assert {r[field] for r in found} == expected


def test_an_unknown_filter_is_invalid(replay_client: Client, replay_server: ReplayServer) -> None:
    error = _error(
        replay_client(replay_server).describe_spot_price_history,
        Filters=[{"Name": "colour", "Values": ["blue"]}],
    )
    assert error.response["Error"]["Code"] == "InvalidParameterValue"


def test_the_region_comes_from_the_signature(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    for region in ("us-east-1", "eu-west-3", "ap-northeast-3"):
        records = replay_client(replay_server, region).describe_spot_price_history(MaxResults=50)[
            "SpotPriceHistory"
        ]
        assert records and all(r["AvailabilityZone"].startswith(region) for r in records)
    assert [c.region for c in replay_server.calls.all()] == [
        "us-east-1",
        "eu-west-3",
        "ap-northeast-3",
    ]


def test_zone_name_or_zone_id_narrow_the_answer(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    client = replay_client(replay_server, "sa-east-1")
    by_name = client.describe_spot_price_history(**SA_EAST_1A)["SpotPriceHistory"]
    by_id = client.describe_spot_price_history(AvailabilityZoneId="sae1-az1", **SERIES)
    assert by_name == by_id["SpotPriceHistory"] and len(by_name) == 3
    assert {r["AvailabilityZoneId"] for r in by_name} == {"sae1-az1"}
    both = _error(
        client.describe_spot_price_history, AvailabilityZone="sa-east-1a", AvailabilityZoneId="x"
    )
    assert both.response["Error"]["Code"] == "InvalidParameterCombination"
    unknown = _error(client.describe_spot_price_history, AvailabilityZone="us-east-1a")
    assert unknown.response["Error"]["Code"] == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("request_", "code", "status"),
    [
        ({"DryRun": True}, "DryRunOperation", 412),
        ({"MaxResults": 0}, "InvalidParameterValue", 400),
        ({"InstanceTypes": ["not a type"]}, "InvalidParameterValue", 400),
        (
            {"StartTime": END, "EndTime": END - timedelta(hours=1)},
            "InvalidParameterValue",
            400,
        ),
    ],
)
def test_requests_ec2_refuses(
    replay_client: Client,
    replay_server: ReplayServer,
    request_: dict,
    code: str,
    status: int,
) -> None:
    error = _error(replay_client(replay_server).describe_spot_price_history, **request_)
    assert error.response["Error"]["Code"] == code
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status
