"""EC2 query-protocol parsing, region routing, XML rendering and paging tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.session
import pytest
from botocore.parsers import create_parser

from spotter.replay import wire
from spotter.replay.tokens import PageState, TokenCodec, query_digest
from spotter.replay.wire import ApiError

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/eu-west-3/ec2/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, Signature=abc"
)


def _operation(name: str):  # type: ignore[no-untyped-def]
    return botocore.session.get_session().get_service_model("ec2").operation_model(name)


def test_the_region_comes_from_the_signature_scope() -> None:
    assert wire.region_from_request(AUTH, {}) == "eu-west-3"
    presigned = {"X-Amz-Credential": "testing/20250101/ap-south-1/ec2/aws4_request"}
    assert wire.region_from_request(None, presigned) == "ap-south-1"
    assert wire.region_from_request("Bearer x", {}) is None
    assert wire.region_from_request(None, {}) is None


def test_numbered_parameters_become_lists_and_structures() -> None:
    form = wire.parse_form(
        b"Action=DescribeSpotPriceHistory&InstanceType.2=c5.large&InstanceType.1=m5.large"
        b"&Filter.1.Name=availability-zone&Filter.1.Value.1=us-east-1a&Filter.1.Value.2=us-east-1b"
        b"&ProductDescription.1=Linux%2FUNIX&NextToken="
    )
    params = wire.unflatten(form)
    assert params["InstanceType"] == ["m5.large", "c5.large"]
    assert params["Filter"] == [
        {"Name": "availability-zone", "Value": ["us-east-1a", "us-east-1b"]}
    ]
    assert params["ProductDescription"] == ["Linux/UNIX"] and params["NextToken"] == ""
    assert wire.filters(params) == [("availability-zone", ["us-east-1a", "us-east-1b"])]


def test_conflicting_parameters_are_invalid() -> None:
    with pytest.raises(ApiError) as caught:
        wire.unflatten({"InstanceType": "x", "InstanceType.1": "y"})
    assert caught.value.code == "InvalidParameterValue" and caught.value.status == 400


@pytest.mark.parametrize(
    ("params", "call"),
    [
        ({"DryRun": "maybe"}, lambda p: wire.boolean(p, "DryRun")),
        ({"MaxResults": "ten"}, lambda p: wire.integer(p, "MaxResults")),
        ({"StartTime": "noon"}, lambda p: wire.timestamp(p, "StartTime")),
        ({"InstanceType": "m5.large"}, lambda p: wire.text_list(p, "InstanceType")),
        ({"Filter": [{"Name": "instance-type"}]}, wire.filters),
    ],
)
def test_malformed_values_answer_invalid_parameter_value(params: dict, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as caught:
        call(params)
    assert caught.value.code == "InvalidParameterValue"


def test_wildcards_follow_ec2_filters() -> None:
    assert wire.matches_any(["us-east-1?"], "us-east-1a")
    assert wire.matches_any(["m5.*"], "m5.large") and not wire.matches_any(["m5.*"], "m5a.large")
    assert wire.matches_any(["Linux/UNIX (Amazon VPC)"], "Linux/UNIX (Amazon VPC)")
    assert not wire.matches_any(["Linux/UNIX"], "Linux/UNIX (Amazon VPC)")


def test_botocore_parses_the_rendered_response() -> None:
    body = (
        "<spotPriceHistorySet><item>"
        + wire.element("instanceType", "m5.large")
        + wire.element("productDescription", "Linux/UNIX")
        + wire.element("spotPrice", "0.041600")
        + wire.element("timestamp", wire.xml_time(datetime(2022, 5, 31, 23, 45, 32, tzinfo=UTC)))
        + wire.element("availabilityZone", "us-east-1d")
        + wire.element("availabilityZoneId", "use1-az4")
        + "</item></spotPriceHistorySet>"
        + wire.element("nextToken", "")
    )
    raw = wire.render_response("DescribeSpotPriceHistory", "rid-1", body)
    model = _operation("DescribeSpotPriceHistory").output_shape
    parsed = create_parser("ec2").parse({"body": raw, "headers": {}, "status_code": 200}, model)
    item = parsed["SpotPriceHistory"][0]
    assert item["SpotPrice"] == "0.041600" and item["AvailabilityZoneId"] == "use1-az4"
    assert item["Timestamp"] == datetime(2022, 5, 31, 23, 45, 32, tzinfo=UTC)
    assert parsed["NextToken"] == "" and parsed["ResponseMetadata"]["RequestId"] == "rid-1"


def test_botocore_parses_the_rendered_error() -> None:
    error = ApiError("InvalidParameterValue", "bad <value> & more")
    raw = wire.render_error(error, "rid-2")
    parsed = create_parser("ec2").parse({"body": raw, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"] == {"Code": "InvalidParameterValue", "Message": "bad <value> & more"}
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-2"


def test_the_malformed_body_does_not_parse() -> None:
    raw = wire.render_malformed("DescribeSpotPriceHistory", "rid-3")
    model = _operation("DescribeSpotPriceHistory").output_shape
    with pytest.raises(Exception, match="invalid XML"):
        create_parser("ec2").parse({"body": raw, "headers": {}, "status_code": 200}, model)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("RequestLimitExceeded", 503),
        ("AuthFailure", 401),
        ("OptInRequired", 401),
        ("UnauthorizedOperation", 403),
        ("InternalError", 500),
        ("Unavailable", 503),
        ("InvalidNextToken", 400),
        ("DryRunOperation", 412),
    ],
)
def test_error_codes_carry_ec2_statuses(code: str, status: int) -> None:
    assert ApiError(code).status == status


STATE = PageState(
    offset=1000,
    as_of=datetime(2022, 5, 31, 23, 59, 47, tzinfo=UTC),
    start=datetime(2022, 5, 31, 23, 0, tzinfo=UTC),
    end=datetime(2022, 5, 31, 23, 59, 47, tzinfo=UTC),
)


def test_a_token_round_trips_for_its_own_query() -> None:
    codec = TokenCodec()
    digest = query_digest("us-east-1", "DescribeSpotPriceHistory", {"InstanceType.1": "m5.large"})
    assert codec.decode(digest, codec.encode(digest, STATE)) == STATE


def test_paging_size_is_not_part_of_the_query() -> None:
    form = {"InstanceType.1": "m5.large"}
    digest = query_digest("us-east-1", "DescribeSpotPriceHistory", form)
    paged = dict(form, MaxResults="5", NextToken="abc")
    assert query_digest("us-east-1", "DescribeSpotPriceHistory", paged) == digest


@pytest.mark.parametrize(
    "token", ["", "garbage", "abc.def", "x" * 300, "eyJxIjoxfQ.0000000000000000000000000000000"]
)
def test_garbage_tokens_are_invalid(token: str) -> None:
    with pytest.raises(ApiError) as caught:
        TokenCodec().decode("digest", token)
    assert caught.value.code == "InvalidNextToken"


def test_a_token_of_another_query_region_or_server_is_invalid() -> None:
    codec = TokenCodec()
    digest = query_digest("us-east-1", "DescribeSpotPriceHistory", {"InstanceType.1": "m5.large"})
    token = codec.encode(digest, STATE)
    other_query = query_digest("us-east-1", "DescribeSpotPriceHistory", {"InstanceType.1": "c5"})
    other_region = query_digest("us-west-2", "DescribeSpotPriceHistory", {"InstanceType.1": "m5"})
    for digest_ in (other_query, other_region):
        with pytest.raises(ApiError, match="token"):
            codec.decode(digest_, token)
    with pytest.raises(ApiError, match="token"):
        TokenCodec().decode(digest, token)
