"""Query and path parameter validation: what is accepted, and that the rest is a clean 400."""

from __future__ import annotations

from datetime import UTC, datetime

import falcon.testing
import pytest

from spotter.api import params
from spotter.api.errors import ApiError


def req(query: str) -> falcon.Request:
    return falcon.testing.create_req(query_string=query)


def rejected(call, *args) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value.status, caught.value.code


@pytest.mark.parametrize(
    "given, product",
    [("", "Linux/UNIX"), ("other=1", "Linux/UNIX"), ("product=Linux/UNIX", "Linux/UNIX"),
     ("product=Linux%2FUNIX%20(Amazon%20VPC)", "Linux/UNIX"), ("product=linux", "Linux/UNIX"),
     ("product=SUSE%20Linux", "SUSE Linux"), ("product=suse", "SUSE Linux"),
     ("product=rhel", "Red Hat Enterprise Linux"),
     ("product=Red%20Hat%20Enterprise%20Linux%20(Amazon%20VPC)", "Red Hat Enterprise Linux"),
     ("product=WINDOWS", "Windows"), ("product=windows%20(amazon%20vpc)", "Windows")],
)
def test_product_forms_map_to_the_product(given: str, product: str) -> None:
    assert params.product(req(given)) == product


def test_every_documented_product_form_is_accepted() -> None:
    for form in params.PRODUCT_FORMS:
        assert params.product(req(f"product={form}")) in (
            "Linux/UNIX", "SUSE Linux", "Red Hat Enterprise Linux", "Windows")


@pytest.mark.parametrize("given", ["product=beos", "product=Linux/UNIX%20(VPC)",
                                   "product=linux&product=rhel"])
def test_unknown_or_repeated_product_is_rejected(given: str) -> None:
    status, code = rejected(params.product, req(given))
    assert status == 400 and code in ("invalid_product", "invalid_parameter")


@pytest.mark.parametrize("value", ["t3..micro", "t3.", ".micro", "T3.micro", "t3 micro",
                                   "t3.micro/", "a" * 41 + ".x", ""])
def test_malformed_instance_types_are_400(value: str) -> None:
    assert rejected(params.instance_type, value) == (400, "invalid_instance_type")


@pytest.mark.parametrize("value", ["t3.micro", "p4d.24xlarge", "u-6tb1.metal", "c7i-flex.large"])
def test_real_instance_types_pass(value: str) -> None:
    assert params.instance_type(value) == value


@pytest.mark.parametrize("value", ["us-east", "us-east-1a", "US-EAST-1", "x", "us-east-0"])
def test_malformed_regions_are_400(value: str) -> None:
    assert rejected(params.region, value) == (400, "invalid_region")


@pytest.mark.parametrize(
    "given, seconds",
    [("max_age=300", 300.0), ("max_age=5m", 300.0), ("max_age=1.5h", 5400.0),
     ("max_age=250ms", 0.25), ("max_age=0", 0.0), ("", None)],
)
def test_max_age_takes_seconds_or_durations(given: str, seconds: float | None) -> None:
    assert params.max_age(req(given)) == seconds


@pytest.mark.parametrize("given", ["max_age=-1", "max_age=5y", "max_age=1e9", "max_age=",
                                   "max_age=" + "9" * 40])
def test_bad_max_age_is_invalid_parameter(given: str) -> None:
    assert rejected(params.max_age, req(given)) == (400, "invalid_parameter")


def test_regions_are_validated_and_deduplicated() -> None:
    assert params.regions(req("regions=us-east-1,%20eu-west-1,us-east-1")) == (
        "us-east-1", "eu-west-1")
    assert params.regions(req("")) is None
    assert rejected(params.regions, req("regions=us-east-1,bogus")) == (400, "invalid_region")
    assert rejected(params.regions, req("regions=,")) == (400, "invalid_parameter")
    many = ",".join(f"xx-test-{i}" for i in range(1, 70))
    assert rejected(params.regions, req(f"regions={many}")) == (400, "invalid_parameter")


@pytest.mark.parametrize(
    "value",
    ["2024-12-24T02:40:00Z", "2024-12-24T02:40:00z", "2024-12-24T02:40:00", "2024-12-24t02:40:00Z",
     "2024-12-24T03:40:00%2B01:00", "2024-12-24T03:40:00+01:00", "2024-12-23T21:40:00-05:00"],
)
def test_times_in_every_iso_form_mean_the_same_instant(value: str) -> None:
    assert params.moment(req(f"since={value}"), "since") == datetime(2024, 12, 24, 2, 40,
                                                                     tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "2024-12-24T25:00:00Z",
                                   "1735000000", ""])
def test_bad_times_are_invalid_parameter(value: str) -> None:
    assert rejected(params.moment, req(f"since={value}"), "since") == (400, "invalid_parameter")


def test_rfc3339_times_python_cannot_hold_are_still_understood() -> None:
    def since(value: str) -> datetime | None:
        return params.moment(req(f"since={value}"), "since")

    assert since("2016-12-31T23:59:60Z") == datetime(2016, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert since("2024-12-24T02:40:00." + "1" * 40 + "Z") == datetime(
        2024, 12, 24, 2, 40, 0, 111111, tzinfo=UTC)
    assert since("0001-01-01T00:00:00%2B05:00") == datetime.min.replace(tzinfo=UTC)
    assert since("9999-12-31T23:59:59-05:00") == datetime.max.replace(tzinfo=UTC)


def test_a_window_that_ends_before_it_starts_is_invalid_parameter() -> None:
    assert rejected(params.window, req("since=2024-12-25&until=2024-12-24")) == (
        400, "invalid_parameter")
    assert rejected(params.window, req("since=2024-12-24T03:00:00%2B01:00&until=2024-12-24T01:59Z")
                    ) == (400, "invalid_parameter")
    # One instant is a window; so are open-ended ones.
    assert params.window(req("since=2024-12-24T02:00:00Z&until=2024-12-24T03:00:00%2B01:00"))[0]
    assert params.window(req("until=2024-12-24")) == (None, datetime(2024, 12, 24, tzinfo=UTC))


def test_empty_product_and_zone_are_malformed() -> None:
    assert rejected(params.product, req("product=")) == (400, "invalid_product")
    assert rejected(params.zone, req("zone=")) == (400, "invalid_parameter")


@pytest.mark.parametrize("value", ["us-east-1a", "us-west-2-lax-1a", "use1-az4", "usw2-lax1-az1",
                                   "use1-wl1-bos-wlz1"])
def test_zone_names_and_ids_are_accepted(value: str) -> None:
    assert params.zone(req(f"zone={value}")) == value


@pytest.mark.parametrize("value", ["../etc", "us east 1a", "*", "a" * 60])
def test_bad_zones_are_invalid_parameter(value: str) -> None:
    assert rejected(params.zone, req(f"zone={value}")) == (400, "invalid_parameter")
