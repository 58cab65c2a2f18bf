"""`/best-price/{type}` over a real Redis: ties, filters, missing regions and honest errors."""

from __future__ import annotations

import time

import pytest
import redis

from spotter.api.app import create_app
from spotter.config import Settings
from spotter.store import Store
from support.apiserver import NOW, ContractClient, seed

SETTINGS = Settings(cache_expiry=600.0, update_interval=300.0)


class CountingConnection(redis.Connection):
    sends = 0

    def send_packed_command(self, command, check_health=True):  # type: ignore[no-untyped-def]
        type(self).sends += 1
        return super().send_packed_command(command, check_health)


@pytest.fixture
def store(redis_url: str) -> Store:
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=CountingConnection)
    return Store(redis.Redis(connection_pool=pool))


@pytest.fixture
def client(store: Store) -> ContractClient:
    return ContractClient(create_app(store, SETTINGS, clock=NOW.timestamp))


def error_code(result) -> str:  # type: ignore[no-untyped-def]
    return result.json["error"]["code"]


def test_best_price_is_the_cheapest_zone_of_all_regions(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035", "us-east-1c": "0.0033"}})
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}})
    store.mark_watched(["ap-east-1"])
    store.record_error("ap-east-1", "throttled", "RequestLimitExceeded", NOW.timestamp())
    result = client.get("/best-price/t3.micro")
    assert result.status_code == 200
    assert result.json == {
        "instance_type": "t3.micro", "region": "us-east-1", "price": 0.0033,
        "availability_zone": "us-east-1c", "zone_id": "use1-az3",
        "price_changed_at": "2024-12-24T02:40:00Z", "product": "Linux/UNIX",
        "source": "aws-api", "cached_at": "2024-12-24T02:59:48Z", "age_seconds": 12.0,
        "stale": False, "regions_considered": 2, "regions_missing": ["ap-east-1"],
    }


def test_best_price_costs_one_round_trip_for_many_regions(
    store: Store, client: ContractClient
) -> None:
    for i in range(1, 31):
        seed(store, f"xx-test-{i}", {"m5.large": {f"xx-test-{i}a": f"0.{100 + i}"}})
    CountingConnection.sends = 0
    result = client.get("/best-price/m5.large")
    assert (result.json["region"], result.json["regions_considered"]) == ("xx-test-1", 30)
    assert CountingConnection.sends == 1


def test_dotted_type_and_trailing_slash(store: Store, client: ContractClient) -> None:
    seed(store, "us-east-1", {"p4d.24xlarge": {"us-east-1b": "9.8304"}})
    for path in ("/best-price/p4d.24xlarge", "/best-price/p4d.24xlarge/"):
        result = client.get(path)
        assert result.status_code == 200
        assert (result.json["instance_type"], result.json["price"]) == ("p4d.24xlarge", 9.8304)


def test_ties_go_to_the_region_then_the_zone_with_the_lower_name(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-west-2", {"t3.micro": {"us-west-2a": "0.0030"}})
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1c": "0.0030", "eu-west-1b": "0.0030"}})
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0031"}})
    result = client.get("/best-price/t3.micro").json
    assert (result["region"], result["availability_zone"]) == ("eu-west-1", "eu-west-1b")
    # Equal values written differently are equal prices.
    seed(store, "ap-south-1", {"t3.micro": {"ap-south-1a": "0.003"}})
    result = client.get("/best-price/t3.micro").json
    assert (result["region"], result["price"]) == ("ap-south-1", 0.003)


def test_regions_restricts_and_lists_the_asked_regions_without_data(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}})
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}})
    result = client.get("/best-price/t3.micro", params={"regions": "eu-west-1,ap-east-1"})
    assert result.status_code == 200
    assert (result.json["region"], result.json["regions_considered"],
            result.json["regions_missing"]) == ("eu-west-1", 1, ["ap-east-1"])
    repeated = client.get("/best-price/t3.micro",
                          query_string="regions=eu-west-1&regions=us-east-1")
    assert (repeated.json["region"], repeated.json["regions_considered"]) == ("us-east-1", 2)
    bad = client.get("/best-price/t3.micro", params={"regions": "eu-west-1,nowhere"})
    assert (bad.status_code, error_code(bad)) == (400, "invalid_region")


def test_max_age_ignores_regions_whose_data_is_older(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}}, age=900)
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}}, age=60)
    cheapest = client.get("/best-price/t3.micro").json
    assert (cheapest["region"], cheapest["stale"]) == ("us-east-1", True)
    for max_age in ("300", "5m", "0.1h", "300000ms"):
        result = client.get("/best-price/t3.micro", params={"max_age": max_age}).json
        assert (result["region"], result["stale"]) == ("eu-west-1", False)
        assert (result["regions_considered"], result["regions_missing"]) == (1, ["us-east-1"])
    for bad in ("-5", "5 minutes", "5y", ""):
        result = client.get("/best-price/t3.micro", params={"max_age": bad})
        assert (result.status_code, error_code(result)) == (400, "invalid_parameter")


def test_products_are_separate(store: Store, client: ContractClient) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}})
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0190"}}, product="Windows")
    result = client.get("/best-price/t3.micro", params={"product": "Windows (Amazon VPC)"})
    assert (result.json["product"], result.json["price"]) == ("Windows", 0.019)


def test_no_offer_anywhere_is_a_404_no_spot_offer(store: Store, client: ContractClient) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}}, also_asked=("u-6tb1.metal",))
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}}, also_asked=("u-6tb1.metal",))
    result = client.get("/best-price/u-6tb1.metal")
    assert (result.status_code, error_code(result)) == (404, "no_spot_offer")
    assert "2 regions" in result.json["error"]["message"]


def test_nothing_fetched_anywhere_is_a_503_not_yet_fetched(
    store: Store, client: ContractClient
) -> None:
    result = client.get("/best-price/t3.micro")
    assert (result.status_code, error_code(result)) == (503, "not_yet_fetched")
    store.mark_watched(["us-east-1", "eu-west-1"])
    result = client.get("/best-price/t3.micro")
    assert (result.status_code, error_code(result)) == (503, "not_yet_fetched")
    assert int(result.headers["retry-after"]) > 0


def test_type_not_watched_anywhere_and_regions_not_watched(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}})
    result = client.get("/best-price/c5.large")
    assert (result.status_code, error_code(result)) == (404, "instance_type_not_watched")
    result = client.get("/best-price/t3.micro", params={"regions": "eu-north-1"})
    assert (result.status_code, error_code(result)) == (404, "region_not_watched")


def test_unauthorized_everywhere_is_a_503_aws_unauthorized(
    store: Store, client: ContractClient
) -> None:
    store.mark_watched(["us-east-1"])
    store.record_error("us-east-1", "unauthorized", "UnauthorizedOperation", NOW.timestamp())
    result = client.get("/best-price/t3.micro")
    assert (result.status_code, error_code(result)) == (503, "aws_unauthorized")
    assert "retry-after" in result.headers


@pytest.mark.parametrize(
    "query, code",
    [("", "invalid_instance_type"), ("?product=amiga", "invalid_product"),
     ("?regions=", "invalid_parameter"), ("?max_age=1m&max_age=2m", "invalid_parameter")],
)
def test_malformed_best_price_questions_are_400(
    client: ContractClient, query: str, code: str
) -> None:
    path = "/best-price/t3..micro" if code == "invalid_instance_type" else "/best-price/t3.micro"
    result = client.get(path, query_string=query.lstrip("?"))
    assert (result.status_code, error_code(result)) == (400, code)


def test_counts_in_messages_agree_in_number(store: Store, client: ContractClient) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}}, also_asked=("u-6tb1.metal",))
    one = client.get("/best-price/u-6tb1.metal").json["error"]["message"]
    assert "in the 1 region considered (us-east-1)" in one and "1 regions" not in one
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}}, also_asked=("u-6tb1.metal",))
    two = client.get("/best-price/u-6tb1.metal").json["error"]["message"]
    assert "in any of the 2 regions considered" in two
    single = client.get("/best-price/t3.micro", params={"regions": "eu-north-1"})
    assert "the region asked for (eu-north-1) is not watched" in single.json["error"]["message"]
    both = client.get("/best-price/t3.micro", params={"regions": "eu-north-1,sa-east-1"})
    assert "none of the 2 regions asked for (eu-north-1, sa-east-1)" in both.json["error"][
        "message"]


def test_a_cheapest_is_never_told_while_a_watched_region_was_never_attempted(
    store: Store, client: ContractClient
) -> None:
    # The first fetch is still running: eu-west-1 is watched and has no status yet; its prices,
    # perhaps lower, are not known, so us-east-1 cannot be called the cheapest.
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    store.mark_watched(["eu-west-1", "ap-south-1"])
    result = client.get("/best-price/t3.micro")
    assert (result.status_code, error_code(result)) == (503, "not_yet_fetched")
    assert int(result.headers["retry-after"]) > 0
    assert result.json["error"]["message"].startswith(
        "2 of 3 regions (ap-south-1, eu-west-1) have not been fetched yet")
    asked = client.get("/best-price/t3.micro", params={"regions": "us-east-1,eu-west-1"})
    assert (asked.status_code, error_code(asked)) == (503, "not_yet_fetched")
    assert asked.json["error"]["message"].startswith("1 of 2 regions (eu-west-1) has not been")
    # Restricted to regions that all have data, the question has an honest answer.
    only = client.get("/best-price/t3.micro", params={"regions": "us-east-1"})
    assert (only.status_code, only.json["regions_missing"]) == (200, [])


@pytest.mark.parametrize("kind", ["throttled", "error", "not_enabled", "unauthorized"])
def test_regions_attempted_and_failed_are_missing_not_waited_for(
    store: Store, client: ContractClient, kind: str
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    store.mark_watched(["eu-west-1"])
    store.record_error("eu-west-1", kind, "it failed", NOW.timestamp())
    result = client.get("/best-price/t3.micro")
    assert (result.status_code, result.json["regions_missing"]) == (200, ["eu-west-1"])


def test_a_watched_region_the_account_has_not_opted_into_is_not_waited_for(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    store.set_catalog({"us-east-1": "opt-in-not-required", "ap-east-1": "not-opted-in"})
    store.mark_watched(["ap-east-1"])
    result = client.get("/best-price/t3.micro")
    assert (result.status_code, result.json["regions_missing"]) == (200, ["ap-east-1"])


def test_regions_without_data_cost_one_status_read_per_cached_view(redis_url: str) -> None:
    writer = Store(redis.Redis.from_url(redis_url))
    seed(writer, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    writer.mark_watched(["eu-west-1"])
    writer.record_error("eu-west-1", "throttled", "RequestLimitExceeded", NOW.timestamp())
    store = Store.from_settings(Settings.from_env({"REDIS_URL": redis_url}), read_cache=True)
    try:
        cache = store.read_cache
        assert cache is not None
        deadline = time.monotonic() + 10
        while cache.hits < 2:  # the tracking connection comes up in the background
            assert time.monotonic() < deadline
            store.best_price_view("t3.micro", "Linux/UNIX")
            time.sleep(0.02)
        reads: list[tuple[str, ...]] = []
        read = store.region_statuses
        store.region_statuses = lambda regions: reads.append(tuple(regions)) or read(regions)
        client = ContractClient(create_app(store, SETTINGS, clock=NOW.timestamp))
        for _ in range(5):
            assert client.get("/best-price/t3.micro").json["regions_missing"] == ["eu-west-1"]
        assert reads == [("eu-west-1",)]
    finally:
        store.close()


def test_a_region_asked_for_that_does_not_exist_is_a_404_naming_it(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}})
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}})
    store.set_catalog({"us-east-1": "opt-in-not-required", "eu-west-1": "opt-in-not-required",
                       "eu-west-3": "opt-in-not-required"})
    for asked, named in (("eu-west-1,xx-nowhere-1", "unknown region xx-nowhere-1:"),
                         ("xx-nowhere-1", "unknown region xx-nowhere-1:"),
                         ("eu-west-1,eu-wset-1", "unknown region eu-wset-1 (did you mean "
                                                 "eu-west-1?)"),
                         ("xx-one-1,xx-two-1", "unknown regions xx-one-1, xx-two-1:")):
        result = client.get("/best-price/t3.micro", params={"regions": asked})
        assert (result.status_code, error_code(result)) == (404, "unknown_region"), asked
        assert result.json["error"]["message"].startswith(named)
    # A region that exists but is not watched is missing, as before.
    result = client.get("/best-price/t3.micro", params={"regions": "eu-west-1,eu-west-3"})
    assert (result.status_code, result.json["regions_missing"]) == (200, ["eu-west-3"])


def test_regions_not_enabled_alone_are_a_403_and_with_others_missing(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}})
    store.set_catalog({"us-east-1": "opt-in-not-required", "ap-east-1": "not-opted-in",
                       "me-south-1": "opted-in"})
    store.mark_watched(["me-south-1"])
    store.record_error("me-south-1", "not_enabled", "OptInRequired", NOW.timestamp())
    for asked in ("ap-east-1", "me-south-1"):  # by the catalog; by the fetcher's last attempt
        result = client.get("/best-price/t3.micro", params={"regions": asked})
        assert (result.status_code, error_code(result)) == (403, "region_not_enabled"), asked
        assert f"region {asked} is not enabled" in result.json["error"]["message"]
    both = client.get("/best-price/t3.micro", params={"regions": "ap-east-1,me-south-1"})
    assert (both.status_code, error_code(both)) == (403, "region_not_enabled")
    assert "regions ap-east-1, me-south-1 are not enabled" in both.json["error"]["message"]
    mixed = client.get("/best-price/t3.micro", params={"regions": "us-east-1,ap-east-1"})
    assert (mixed.status_code, mixed.json["regions_missing"]) == (200, ["ap-east-1"])


def test_max_age_that_leaves_out_every_region_is_a_503_no_fresh_data_not_no_spot_offer(
    store: Store, client: ContractClient
) -> None:
    # Every region offers the type; their data is only older than asked: no "no offer" claim.
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0030"}}, age=900)
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}}, age=60)
    result = client.get("/best-price/t3.micro", params={"max_age": "30s"})
    assert (result.status_code, error_code(result)) == (503, "no_fresh_data")
    assert result.json["error"]["message"] == (
        "no region has data on t3.micro (Linux/UNIX) younger than max_age=30s: the freshest "
        "(eu-west-1) is 60s old")
    assert result.headers["retry-after"] == "240"  # eu-west-1's next fetch, 300s after its last
    # A region considered without an offer is no_spot_offer, and says what max_age left out.
    seed(store, "ap-south-1", {}, also_asked=("t3.micro",), age=5)
    result = client.get("/best-price/t3.micro", params={"max_age": "30s"})
    assert (result.status_code, error_code(result)) == (404, "no_spot_offer")
    assert "2 regions with data older than max_age=30s were left out" in result.json["error"][
        "message"]


def test_no_offer_in_replayed_data_is_not_claimed_as_a_fact_about_aws(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}}, also_asked=("u-6tb1.metal",),
         source="replay")
    replayed = client.get("/best-price/u-6tb1.metal")
    assert (replayed.status_code, error_code(replayed)) == (404, "no_spot_offer")
    assert replayed.json["error"]["message"] == (
        "no recorded spot price for u-6tb1.metal (Linux/UNIX) in the 1 region considered "
        "(us-east-1) in the replayed data (a window of price changes, not every offer)")
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0035"}}, also_asked=("u-6tb1.metal",))
    mixed = client.get("/best-price/u-6tb1.metal").json["error"]["message"]
    assert mixed == (
        "u-6tb1.metal (Linux/UNIX) has no spot offer and no recorded spot price in any of the 2 "
        "regions considered (1 fetched from AWS, 1 replayed: a window of price changes, not "
        "every offer)")
    only_aws = client.get("/best-price/u-6tb1.metal", params={"regions": "eu-west-1"})
    assert only_aws.json["error"]["message"] == (
        "u-6tb1.metal (Linux/UNIX) has no spot offer in the 1 region considered (eu-west-1)")
