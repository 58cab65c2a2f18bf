"""`/spot-prices/{region}/{type}` and its history over a real Redis, through the Falcon app."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from spotter.api.app import create_app
from spotter.config import Settings
from spotter.store import Store
from support.apiserver import NOW, ContractClient, seed

SETTINGS = Settings(cache_expiry=600.0, update_interval=300.0)


@pytest.fixture
def store(redis_url: str) -> Store:
    return Store(redis.Redis.from_url(redis_url))


@pytest.fixture
def client(store: Store) -> ContractClient:
    return ContractClient(create_app(store, SETTINGS, clock=NOW.timestamp))


def error_code(result) -> str:  # type: ignore[no-untyped-def]
    return result.json["error"]["code"]


def test_spot_prices_answer_every_zone_cheapest_first_with_exact_prices(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.003500", "us-east-1b": "0.0034",
                                           "us-east-1c": "0.0041"}})
    result = client.get("/spot-prices/us-east-1/t3.micro")
    assert result.status_code == 200
    assert result.json == {
        "instance_type": "t3.micro", "region": "us-east-1", "product": "Linux/UNIX",
        "prices": {"us-east-1b": 0.0034, "us-east-1a": 0.0035, "us-east-1c": 0.0041},
        "zones": [
            {"zone": "us-east-1b", "zone_id": "use1-az2", "price": 0.0034,
             "price_changed_at": "2024-12-24T02:40:00Z"},
            {"zone": "us-east-1a", "zone_id": "use1-az1", "price": 0.0035,
             "price_changed_at": "2024-12-24T02:40:00Z"},
            {"zone": "us-east-1c", "zone_id": "use1-az3", "price": 0.0041,
             "price_changed_at": "2024-12-24T02:40:00Z"},
        ],
        "source": "aws-api", "cached_at": "2024-12-24T02:59:48Z", "age_seconds": 12.0,
        "stale": False,
    }
    assert '"price": 0.0034,' in result.text  # a JSON number, not a string


def test_dotted_instance_types_arrive_whole_and_trailing_slash_is_ignored(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"p4d.24xlarge": {"us-east-1a": "9.8"}, "t3.micro": {
        "us-east-1a": "0.0035"}})
    for path in ("/spot-prices/us-east-1/p4d.24xlarge", "/spot-prices/us-east-1/p4d.24xlarge/"):
        result = client.get(path)
        assert result.status_code == 200 and result.json["instance_type"] == "p4d.24xlarge"


def test_a_type_offered_in_zones_b_and_c_lists_only_b_and_c(
    store: Store, client: ContractClient
) -> None:
    seed(store, "eu-west-1", {"g5.xlarge": {"eu-west-1c": "0.52", "eu-west-1b": "0.50"}})
    result = client.get("/spot-prices/eu-west-1/g5.xlarge")
    assert [z["zone"] for z in result.json["zones"]] == ["eu-west-1b", "eu-west-1c"]
    assert result.json["prices"] == {"eu-west-1b": 0.5, "eu-west-1c": 0.52}


def test_old_price_change_is_not_stale_but_an_old_fetch_is(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}},
         changed=NOW - timedelta(days=3))
    seed(store, "us-west-2", {"t3.micro": {"us-west-2a": "0.0031"}}, age=3600)
    fresh = client.get("/spot-prices/us-east-1/t3.micro").json
    assert fresh["stale"] is False
    assert fresh["zones"][0]["price_changed_at"] == "2024-12-21T03:00:00Z"
    old = client.get("/spot-prices/us-west-2/t3.micro").json
    assert (old["stale"], old["age_seconds"]) == (True, 3600.0)


@pytest.mark.parametrize(
    "product, canonical",
    [("Linux/UNIX", "Linux/UNIX"), ("Linux/UNIX (Amazon VPC)", "Linux/UNIX"),
     ("linux", "Linux/UNIX"), ("windows", "Windows"), ("Windows (Amazon VPC)", "Windows"),
     ("rhel", "Red Hat Enterprise Linux"), ("suse linux", "SUSE Linux")],
)
def test_every_product_form_selects_the_product(
    store: Store, client: ContractClient, product: str, canonical: str
) -> None:
    for name in ("Linux/UNIX", "Windows", "Red Hat Enterprise Linux", "SUSE Linux"):
        seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.01" if name == canonical
                                               else "0.99"}}, product=name)
    result = client.get("/spot-prices/us-east-1/t3.micro", params={"product": product})
    assert result.status_code == 200
    assert (result.json["product"], result.json["zones"][0]["price"]) == (canonical, 0.01)


def test_no_product_means_linux_and_windows_never_answers_it(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.02"}}, product="Windows")
    seed(store, "us-east-1", {"c5.large": {"us-east-1a": "0.03"}})
    result = client.get("/spot-prices/us-east-1/t3.micro")
    assert (result.status_code, error_code(result)) == (404, "instance_type_not_watched")


def test_a_product_never_fetched_in_a_fetched_region_is_not_watched(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    result = client.get("/spot-prices/us-east-1/t3.micro", params={"product": "windows"})
    assert (result.status_code, error_code(result)) == (404, "instance_type_not_watched")
    assert "Windows" in result.json["error"]["message"]


@pytest.mark.parametrize(
    "path, code",
    [("/spot-prices/us-east-1/t3..micro", "invalid_instance_type"),
     ("/spot-prices/us-east-1/T3.MICRO", "invalid_instance_type"),
     ("/spot-prices/us-east-1/micro", "invalid_instance_type"),
     ("/spot-prices/US_EAST_1/t3.micro", "invalid_region"),
     ("/spot-prices/us-east-1a/t3.micro", "invalid_region"),
     ("/spot-prices/us-east-1/t3.micro?product=beos", "invalid_product"),
     ("/spot-prices/us-east-1/t3.micro?product=linux&product=windows", "invalid_parameter"),
     ("/spot-prices/us-east-1/t3..micro/history", "invalid_instance_type"),
     ("/spot-prices/us-east-1/t3.micro/history?since=yesterday", "invalid_parameter"),
     ("/spot-prices/us-east-1/t3.micro/history?zone=../etc", "invalid_parameter"),
     ("/spot-prices/us-east-1/t3.micro/history?zone=", "invalid_parameter"),
     ("/spot-prices/us-east-1/t3.micro?product=", "invalid_product")],
)
def test_malformed_input_is_a_400_never_a_500(
    store: Store, client: ContractClient, path: str, code: str
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    result = client.get(path.split("?")[0], query_string=path.partition("?")[2])
    assert (result.status_code, error_code(result)) == (400, code)
    assert result.json["error"]["message"]


def test_unknown_region_with_a_catalog_and_without_one(
    store: Store, client: ContractClient
) -> None:
    store.mark_watched(["us-east-1"])
    result = client.get("/spot-prices/xx-nowhere-1/t3.micro")
    assert (result.status_code, error_code(result)) == (404, "unknown_region")
    store.set_catalog({"us-east-1": "opt-in-not-required", "eu-west-3": "opt-in-not-required"})
    result = client.get("/spot-prices/xx-nowhere-1/t3.micro")
    assert (result.status_code, error_code(result)) == (404, "unknown_region")
    result = client.get("/spot-prices/eu-west-3/t3.micro")
    assert (result.status_code, error_code(result)) == (404, "region_not_watched")


def test_region_not_enabled_is_a_distinct_403(store: Store, client: ContractClient) -> None:
    store.set_catalog({"ap-east-1": "not-opted-in", "me-south-1": "opted-in"})
    result = client.get("/spot-prices/ap-east-1/t3.micro")
    assert (result.status_code, error_code(result)) == (403, "region_not_enabled")
    store.mark_watched(["me-south-1"])
    store.record_error("me-south-1", "not_enabled", "OptInRequired", NOW.timestamp())
    result = client.get("/spot-prices/me-south-1/t3.micro")
    assert (result.status_code, error_code(result)) == (403, "region_not_enabled")


def test_unauthorized_credentials_without_data_are_a_503_naming_the_permission(
    store: Store, client: ContractClient
) -> None:
    store.mark_watched(["us-east-1"])
    store.record_error("us-east-1", "unauthorized", "UnauthorizedOperation", NOW.timestamp())
    result = client.get("/spot-prices/us-east-1/t3.micro")
    assert (result.status_code, error_code(result)) == (503, "aws_unauthorized")
    assert "ec2:DescribeSpotPriceHistory" in result.json["error"]["message"]
    assert result.headers["retry-after"] == "300"


def test_watched_region_not_fetched_yet_is_a_503_with_retry_after(
    store: Store, client: ContractClient
) -> None:
    store.mark_watched(["us-east-1"])
    store.record_error("us-east-1", "throttled", "RequestLimitExceeded", NOW.timestamp())
    result = client.get("/spot-prices/us-east-1/t3.micro")
    assert (result.status_code, error_code(result)) == (503, "not_yet_fetched")
    assert int(result.headers["retry-after"]) > 0
    assert "RequestLimitExceeded" in result.json["error"]["message"]


def test_type_never_asked_for_and_type_without_offer_are_different_404s(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}}, also_asked=("p4d.24xlarge",))
    result = client.get("/spot-prices/us-east-1/c5.large")
    assert (result.status_code, error_code(result)) == (404, "instance_type_not_watched")
    result = client.get("/spot-prices/us-east-1/p4d.24xlarge")
    assert (result.status_code, error_code(result)) == (404, "no_spot_offer")


def test_prices_are_served_even_when_the_last_fetch_failed(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    store.record_error("us-east-1", "unauthorized", "UnauthorizedOperation", NOW.timestamp())
    result = client.get("/spot-prices/us-east-1/t3.micro")
    assert result.status_code == 200 and result.json["zones"][0]["price"] == 0.0035


def test_history_is_oldest_first_and_filters_by_window_and_zone(
    store: Store, client: ContractClient
) -> None:
    for hours, price in ((5, "0.0030"), (3, "0.0032"), (1, "0.0031")):
        changed = NOW - timedelta(hours=hours)
        seed(store, "us-east-1", {"t3.micro": {"us-east-1a": price, "us-east-1b": "0.0040"}},
             changed=changed, now=changed + timedelta(minutes=1))
    result = client.get("/spot-prices/us-east-1/t3.micro/history",
                        params={"zone": "us-east-1a"})
    assert result.status_code == 200
    assert [(p["price"], p["changed_at"]) for p in result.json["points"]] == [
        (0.003, "2024-12-23T22:00:00Z"), (0.0032, "2024-12-24T00:00:00Z"),
        (0.0031, "2024-12-24T02:00:00Z")]
    by_id = client.get("/spot-prices/us-east-1/t3.micro/history",
                       query_string="zone=use1-az1&since=2024-12-23T23:00:00Z"
                                    "&until=2024-12-24T01:00:00Z")
    assert [p["price"] for p in by_id.json["points"]] == [0.0032]
    assert (by_id.json["since"], by_id.json["until"]) == ("2024-12-23T23:00:00Z",
                                                          "2024-12-24T01:00:00Z")
    # An unescaped "+" of an offset arrives as a space; it is still understood.
    plus = client.get("/spot-prices/us-east-1/t3.micro/history",
                      query_string="zone=us-east-1a&since=2024-12-24T00:30:00+00:00")
    assert [p["price"] for p in plus.json["points"]] == [0.0031]
    reversed_window = client.get("/spot-prices/us-east-1/t3.micro/history",
                                 query_string="since=2024-12-24&until=2024-12-23")
    assert (reversed_window.status_code, error_code(reversed_window)) == (400, "invalid_parameter")
    assert "since ('2024-12-24') is later than until ('2024-12-23')" in reversed_window.json[
        "error"]["message"]
    ancient = client.get("/spot-prices/us-east-1/t3.micro/history",
                         query_string="since=0001-01-01T00:00:00%2B05:00&zone=us-east-1a")
    assert ancient.json["since"] == "0001-01-01T00:00:00Z" and len(ancient.json["points"]) == 3
    everything = client.get("/spot-prices/us-east-1/t3.micro/history/").json["points"]
    assert [p["zone"] for p in everything] == ["us-east-1a", "us-east-1b"] * 3


def test_history_of_an_unknown_region_is_an_error_not_an_empty_list(
    store: Store, client: ContractClient
) -> None:
    store.mark_watched(["us-east-1"])  # an empty store knows nothing yet: that is a 503
    result = client.get("/spot-prices/xx-nowhere-1/t3.micro/history")
    assert (result.status_code, error_code(result)) == (404, "unknown_region")


def test_no_offer_in_replayed_data_is_not_claimed_as_a_fact_about_aws(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}}, also_asked=("u-6tb1.metal",),
         source="replay")
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0035"}}, also_asked=("u-6tb1.metal",))
    replayed = client.get("/spot-prices/us-east-1/u-6tb1.metal")
    assert (replayed.status_code, error_code(replayed)) == (404, "no_spot_offer")
    assert replayed.json["error"]["message"] == (
        "no recorded spot price for u-6tb1.metal (Linux/UNIX) in any zone of us-east-1 in the "
        "replayed data (a window of price changes, not every offer)")
    fetched = client.get("/spot-prices/eu-west-1/u-6tb1.metal")
    assert fetched.json["error"]["message"] == (
        "u-6tb1.metal (Linux/UNIX) has no spot offer in any zone of eu-west-1")


def test_advice_to_watch_a_type_or_a_region_fits_every_way_spotter_runs(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    store.set_catalog({"us-east-1": "opt-in-not-required", "eu-west-3": "opt-in-not-required"})
    kind = client.get("/spot-prices/us-east-1/c5.large").json["error"]["message"]
    assert kind.endswith(
        "add it to a SpotWatch's instanceTypes (Kubernetes), or to INSTANCE_TYPES "
        "(spotter up / fetch) or --instance-types (spotter fetch)")
    best = client.get("/best-price/c5.large").json["error"]["message"]
    assert "INSTANCE_TYPES" in best and "SpotWatch's instanceTypes (Kubernetes)" in best
    for path, query in (("/spot-prices/eu-west-3/t3.micro", ""),
                        ("/best-price/t3.micro", "regions=eu-west-3")):
        region = client.get(path, query_string=query).json["error"]["message"]
        assert region.endswith(
            "add it to a SpotWatch's regions (Kubernetes), or to SPOTTER_REGIONS or --regions "
            "(spotter up / fetch)"), region


def test_an_unwatched_name_within_two_edits_of_a_known_one_is_suggested(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"},
                              "c5.large": {"us-east-1a": "0.04"}})
    seed(store, "eu-west-1", {"m6g.xlarge": {"eu-west-1a": "0.07"}})
    store.set_catalog({"us-east-1": "opt-in-not-required", "eu-west-1": "opt-in-not-required"})
    cases = [
        ("/spot-prices/us-east-1/c5.larg", "c5.larg (Linux/UNIX) is not watched in us-east-1 "
                                           "(did you mean c5.large?); add it"),
        ("/spot-prices/us-east-1/t3.mirco", "(did you mean t3.micro?)"),
        ("/best-price/m6g.xlrge", "m6g.xlrge (Linux/UNIX) is not watched in any region "
                                  "(did you mean m6g.xlarge?); add it"),
        ("/spot-prices/us-esat-1/t3.micro", "unknown region us-esat-1 (did you mean us-east-1?)"),
    ]
    for path, expected in cases:
        result = client.get(path)
        assert result.status_code == 404 and expected in result.json["error"]["message"], path
    # Only a type watched in the region asked is suggested there, and only a near one.
    for path in ("/spot-prices/us-east-1/m6g.xlrge", "/spot-prices/us-east-1/p4d.24xlarge",
                 "/best-price/p4d.24xlarge"):
        result = client.get(path)
        assert result.status_code == 404 and "did you mean" not in result.json["error"]["message"]


def test_history_of_a_zone_the_region_has_no_prices_in_is_a_404_unknown_zone(
    store: Store, client: ContractClient
) -> None:
    # us-east-1c had t3.micro until five hours ago; now only a and b have it.
    old = NOW - timedelta(hours=5)
    seed(store, "us-east-1", {"t3.micro": {"us-east-1c": "0.0050"}}, changed=old,
         now=old + timedelta(minutes=1))
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035", "us-east-1b": "0.0036"}},
         also_asked=("u-6tb1.metal",))
    path = "/spot-prices/us-east-1/t3.micro/history"
    for zone, message in (
        ("us-east-1z", "zone us-east-1z is not among the zones of us-east-1 with prices of "
                       "t3.micro (Linux/UNIX); those are us-east-1a (use1-az1), us-east-1b "
                       "(use1-az2), us-east-1c (use1-az3)"),
        ("us-west-2a", "zone us-west-2a is not in us-east-1; those are"),
        ("us-east-10a", "zone us-east-10a is not in us-east-1"),
        ("euw1-az1", "zone euw1-az1 is not among the zones of us-east-1"),
    ):
        result = client.get(path, params={"zone": zone})
        assert (result.status_code, error_code(result)) == (404, "unknown_zone"), zone
        assert result.json["error"]["message"].startswith(message), result.json
    # Known zones, by name or id, even one with no change in the window asked.
    assert len(client.get(path, params={"zone": "use1-az2"}).json["points"]) == 1
    since = (NOW - timedelta(hours=1)).isoformat()
    result = client.get(path, params={"zone": "us-east-1c", "since": since})
    assert (result.status_code, result.json["points"]) == (200, [])
    # A type with no offer in the region has no zone to tell one by, but us-west-2a is elsewhere.
    nothing = "/spot-prices/us-east-1/u-6tb1.metal/history"
    assert client.get(nothing, params={"zone": "us-east-1a"}).json["points"] == []
    result = client.get(nothing, params={"zone": "us-west-2a"})
    assert (result.status_code, error_code(result)) == (404, "unknown_zone")
