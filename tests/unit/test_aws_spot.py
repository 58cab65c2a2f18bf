"""The spot price fetch of one region, against exactly scripted pages (botocore Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest
from botocore.stub import ANY, Stubber

from spotter.aws.errors import AwsError, classify
from spotter.aws.spot import fetch_region

NOW = datetime(2024, 12, 24, 7, 9, tzinfo=UTC)


def record(
    itype: str, zone: str, price: str, when: datetime = NOW, product: str = "Linux/UNIX"
) -> dict:
    return {
        "InstanceType": itype,
        "AvailabilityZone": zone,
        "SpotPrice": price,
        "Timestamp": when,
        "ProductDescription": product,
    }


def stubbed(*pages: tuple[list[dict], str | None]):
    client = boto3.client(
        "ec2", region_name="us-east-1", aws_access_key_id="stub", aws_secret_access_key="stub"
    )
    stubber = Stubber(client)
    previous: str | None = None
    for records, token in pages:
        response: dict = {"SpotPriceHistory": records}
        if token is not None:
            response["NextToken"] = token
        expected = {
            "InstanceTypes": ANY,
            "ProductDescriptions": ANY,
            "StartTime": ANY,
            "MaxResults": ANY,
        }
        if previous:  # a call after a page with a token must send that token
            expected["NextToken"] = previous
        stubber.add_response("describe_spot_price_history", response, expected)
        previous = token
    stubber.activate()
    return client, stubber


def prices(fetch, product: str = "Linux/UNIX") -> dict[tuple[str, str], Decimal]:
    return {(q.instance_type, q.zone): q.price for q in fetch.quotes[product]}


def test_paging_follows_tokens_through_empty_pages_and_keeps_every_record() -> None:
    client, stubber = stubbed(
        ([record("m5.large", f"us-east-1{z}", "0.04") for z in "abc"], "t1"),
        ([], "t2"),
        ([record("c5.large", f"us-east-1{z}", "0.05") for z in "ab"], ""),
    )
    fetch = fetch_region(client, "us-east-1", ["m5.large", "c5.large"], ["Linux/UNIX"], now=NOW)
    stubber.assert_no_pending_responses()
    assert fetch.calls == 3 and fetch.records == 5
    assert len(fetch.quotes["Linux/UNIX"]) == 5


def test_later_pages_never_replace_earlier_pages_zones() -> None:
    client, _ = stubbed(
        ([record("m5.large", "us-east-1a", "0.040")], "t1"),
        (
            [record("m5.large", "us-east-1b", "0.038"), record("c5.large", "us-east-1a", "0.085")],
            None,
        ),
    )
    fetch = fetch_region(client, "us-east-1", ["m5.large", "c5.large"], ["Linux/UNIX"], now=NOW)
    got = prices(fetch)
    assert got == {
        ("m5.large", "us-east-1a"): Decimal("0.040"),
        ("m5.large", "us-east-1b"): Decimal("0.038"),
        ("c5.large", "us-east-1a"): Decimal("0.085"),
    }
    cheapest = min(
        (q for q in fetch.quotes["Linux/UNIX"] if q.instance_type == "m5.large"),
        key=lambda q: q.price,
    )
    assert cheapest.zone == "us-east-1b"


def test_product_forms_merge_and_windows_never_answers_linux() -> None:
    vpc = "Linux/UNIX (Amazon VPC)"
    client, _ = stubbed(
        (
            [
                record("c5.large", "us-east-1a", "0.0350", product=vpc),
                record("m3.medium", "us-east-1a", "0.0100", product="Linux/UNIX"),
                record("m3.medium", "us-east-1a", "0.0120", product=vpc),
                record("c5.large", "us-east-1a", "0.0010", product="Windows"),
            ],
            None,
        )
    )
    fetch = fetch_region(client, "us-east-1", ["c5.large", "m3.medium"], ["Linux/UNIX"], now=NOW)
    got = prices(fetch)
    # Same timestamp under both forms: the "(Amazon VPC)" form wins (documented in spot.py).
    assert got == {
        ("c5.large", "us-east-1a"): Decimal("0.0350"),
        ("m3.medium", "us-east-1a"): Decimal("0.0120"),
    }
    assert fetch.rejected == {"product_not_asked": 1}


def test_newest_record_wins_whatever_the_page_order() -> None:
    old, new = NOW - timedelta(minutes=2), NOW - timedelta(seconds=50)
    client, _ = stubbed(
        ([record("m5.large", "us-east-1a", "0.050", new)], "t1"),
        ([record("m5.large", "us-east-1a", "0.030", old)], None),
    )
    fetch = fetch_region(client, "us-east-1", ["m5.large"], ["Linux/UNIX"], now=NOW)
    assert prices(fetch) == {("m5.large", "us-east-1a"): Decimal("0.050")}


def test_old_price_changes_are_current_prices() -> None:
    window_records = [
        record("m5.large", "us-east-1a", "0.040", NOW.replace(minute=8, second=10)),
        record("m5.large", "us-east-1b", "0.041", NOW.replace(minute=6, second=43)),
        record("r5.large", "us-east-1a", "0.060", NOW - timedelta(days=3)),
    ]
    client, _ = stubbed((window_records, None))
    fetch = fetch_region(client, "us-east-1", ["m5.large", "r5.large"], ["Linux/UNIX"], now=NOW)
    assert len(fetch.quotes["Linux/UNIX"]) == 3
    assert {q.price_changed_at for q in fetch.quotes["Linux/UNIX"]} == {
        r["Timestamp"] for r in window_records
    }


def test_records_not_asked_for_or_unparseable_are_rejected_and_counted() -> None:
    client, _ = stubbed(
        (
            [
                record("m5.large", "us-east-1a", "0.040"),
                record("x9.huge", "us-east-1a", "0.040"),
                record("m5.large", "eu-west-1a", "0.040"),
                record("m5.large", "us-east-1b", "not-a-price"),
                record("m5.large", "us-east-1c", "0"),
            ],
            None,
        )
    )
    fetch = fetch_region(client, "us-east-1", ["m5.large"], ["Linux/UNIX"], now=NOW)
    assert prices(fetch) == {("m5.large", "us-east-1a"): Decimal("0.040")}
    assert fetch.rejected == {
        "instance_type_not_asked": 1,
        "zone_not_in_region": 1,
        "unparseable": 2,
    }


def test_local_zone_is_kept_with_its_queried_region() -> None:
    client, _ = stubbed(([record("m5.large", "us-west-2-lax-1a", "0.07")], None))
    fetch = fetch_region(client, "us-west-2", ["m5.large"], ["Linux/UNIX"], now=NOW)
    assert fetch.quotes["Linux/UNIX"][0].region == "us-west-2"


def test_repeated_token_stops_and_reports() -> None:
    client, _ = stubbed(([record("m5.large", "us-east-1a", "0.04")], "same"), ([], "same"))
    with pytest.raises(AwsError) as err:
        fetch_region(client, "us-east-1", ["m5.large"], ["Linux/UNIX"], now=NOW)
    assert err.value.code == "RepeatedNextToken"


def test_many_types_are_chunked_and_every_chunk_paged() -> None:
    types = [f"m{i}.large" for i in range(250)]
    client, stubber = stubbed(
        ([record("m0.large", "us-east-1a", "0.1")], None),
        ([record("m249.large", "us-east-1a", "0.2")], None),
    )
    fetch = fetch_region(client, "us-east-1", types, ["Linux/UNIX"], now=NOW)
    stubber.assert_no_pending_responses()
    assert fetch.calls == 2 and len(fetch.quotes["Linux/UNIX"]) == 2


@pytest.mark.parametrize(
    ("code", "enabled", "kind"),
    [
        ("RequestLimitExceeded", None, "throttled"),
        ("AuthFailure", None, "not_enabled"),
        ("OptInRequired", True, "not_enabled"),
        ("AuthFailure", True, "unauthorized"),
        ("UnauthorizedOperation", None, "unauthorized"),
        ("InternalError", None, "other"),
    ],
)
def test_errors_are_classified_by_kind(code: str, enabled: bool | None, kind: str) -> None:
    from botocore.exceptions import ClientError

    exc = ClientError({"Error": {"Code": code, "Message": "m"}}, "DescribeSpotPriceHistory")
    assert classify(exc, "ap-east-1", region_enabled=enabled).kind == kind
