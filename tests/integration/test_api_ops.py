"""`/regions`, `/health`, `/metrics`, `/openapi.json`, routing errors and Redis outages."""

from __future__ import annotations

import pytest
import redis

from spotter.api.app import create_app
from spotter.config import Settings
from spotter.store import Store
from support.apiserver import NOW, ContractClient, seed
from support.redisserver import RedisServer

SETTINGS = Settings(cache_expiry=600.0, update_interval=300.0)
T = NOW.timestamp()


@pytest.fixture
def store(redis_url: str) -> Store:
    return Store(redis.Redis.from_url(redis_url))


@pytest.fixture
def client(store: Store) -> ContractClient:
    return ContractClient(create_app(store, SETTINGS, clock=NOW.timestamp))


def test_regions_report_status_freshness_errors_and_catalog(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035", "us-east-1b": "0.0036"}})
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}}, age=4000)
    store.record_error("eu-west-1", "throttled", "RequestLimitExceeded", T - 30)
    store.mark_watched(["ap-east-1"])
    store.record_error("ap-east-1", "not_enabled", "OptInRequired", T - 60, next_check=T + 3600)
    store.set_catalog({"us-east-1": "opt-in-not-required", "eu-west-1": "opt-in-not-required",
                       "ap-east-1": "not-opted-in"})
    result = client.get("/regions")
    assert result.status_code == 200
    regions = {r["region"]: r for r in result.json["regions"]}
    assert list(regions) == ["ap-east-1", "eu-west-1", "us-east-1"]
    assert regions["us-east-1"] == {
        "region": "us-east-1", "state": "ok", "last_success": "2024-12-24T02:59:48Z",
        "age_seconds": 12.0, "stale": False, "last_attempt": "2024-12-24T02:59:48Z",
        "last_error": None, "quotes": 2, "next_check": None,
        "opt_in_status": "opt-in-not-required",
    }
    assert (regions["eu-west-1"]["state"], regions["eu-west-1"]["stale"]) == ("throttled", True)
    assert regions["eu-west-1"]["last_error"] == {
        "kind": "throttled", "message": "RequestLimitExceeded", "at": "2024-12-24T02:59:30Z"}
    assert regions["ap-east-1"]["state"] == "not_enabled"
    assert regions["ap-east-1"]["next_check"] == "2024-12-24T04:00:00Z"
    assert result.json["catalog"]["ap-east-1"] == "not-opted-in"


def test_regions_without_catalog(client: ContractClient) -> None:
    assert client.get("/regions/").json == {"regions": [], "catalog": None}


def test_health_is_ok_when_every_region_is_fresh(store: Store, client: ContractClient) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    for path in ("/health", "/health/"):
        result = client.get(path)
        assert result.status_code == 200
        body = result.json
        assert (body["status"], body["reasons"]) == ("ok", [])
        assert body["redis"]["reachable"] is True and body["redis"]["latency_ms"] >= 0
        assert body["regions"] == {"us-east-1": {"state": "ok", "age_seconds": 12.0,
                                                 "stale": False}}
        assert body["worker"]["pid"] > 0 and body["worker"]["id"]


def test_health_is_degraded_and_says_why(store: Store, client: ContractClient) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    seed(store, "eu-west-1", {"t3.micro": {"eu-west-1a": "0.0040"}}, age=4000)
    store.mark_watched(["ap-east-1", "us-west-2", "sa-east-1"])
    store.record_error("ap-east-1", "not_enabled", "OptInRequired", T)
    store.record_error("us-west-2", "unauthorized", "UnauthorizedOperation", T)
    result = client.get("/health")
    assert result.status_code == 200
    body = result.json
    assert body["status"] == "degraded"
    assert body["reasons"] == [
        "ap-east-1: region is not enabled for this AWS account (opt-in required)",
        "eu-west-1: last successful fetch 4000s ago, older than 600s",
        "sa-east-1: not fetched yet",
        "us-west-2: AWS credentials lack ec2:DescribeSpotPriceHistory (UnauthorizedOperation)",
    ]
    assert body["regions"]["eu-west-1"] == {"state": "ok", "age_seconds": 4000.0, "stale": True}
    assert body["regions"]["sa-east-1"] == {"state": "pending", "age_seconds": None,
                                            "stale": True}


def test_unknown_routes_and_other_methods_answer_json(client: ContractClient) -> None:
    for path in ("/", "/nope", "/spot-prices/us-east-1", "/best-price"):
        result = client.get(path)
        assert (result.status_code, result.json["error"]["code"]) == (404, "not_found")
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        result = client.client.simulate_request(method, "/spot-prices/us-east-1/t3.micro")
        assert result.status_code == 405
        assert result.json["error"]["code"] == "method_not_allowed"
        assert result.headers["allow"] == "GET, HEAD"


def test_request_id_is_passed_through_or_generated(client: ContractClient) -> None:
    given = client.get("/regions", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/nope", headers={"X-Request-ID": "bad id\twith junk"})
    assert made.headers["x-request-id"] not in ("", "bad id\twith junk")
    assert len(made.headers["x-request-id"]) == 32


def test_metrics_count_requests_by_route_template_and_status(
    store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    client.get("/spot-prices/us-east-1/t3.micro")
    client.get("/spot-prices/us-east-1/c5.large")
    client.get("/nope")
    text = client.get("/metrics").text
    route = "/spot-prices/{region}/{instance_type}"
    series = f'spotter_http_requests_total{{method="GET",route="{route}"'
    assert f'{series},status="200"}} 1.0' in text
    assert f'{series},status="404"}} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "spotter_http_request_duration_seconds_bucket" in text


def test_openapi_document_is_valid_and_covers_every_route(client: ContractClient) -> None:
    from openapi_spec_validator import validate

    doc = client.get("/openapi.json").json
    validate(doc)
    assert set(doc["paths"]) == {
        "/spot-prices/{region}/{instance_type}", "/spot-prices/{region}/{instance_type}/history",
        "/best-price/{instance_type}", "/regions", "/health", "/healthz", "/readyz", "/metrics",
        "/openapi.json"}
    assert "Ties" in doc["paths"]["/best-price/{instance_type}"]["get"]["description"]


def test_redis_outage_is_a_503_and_the_app_recovers_by_itself(
    redis_server: RedisServer, store: Store, client: ContractClient
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    assert client.get("/spot-prices/us-east-1/t3.micro").status_code == 200
    redis_server.stop()
    try:
        for path in ("/spot-prices/us-east-1/t3.micro", "/best-price/t3.micro", "/regions",
                     "/spot-prices/us-east-1/t3.micro/history"):
            result = client.get(path)
            assert (result.status_code, result.json["error"]["code"]) == (503,
                                                                          "redis_unavailable")
            assert int(result.headers["retry-after"]) > 0
        down = client.get("/health")
        assert (down.status_code, down.json["status"]) == (503, "down")
        assert down.json["redis"]["reachable"] is False and "retry-after" in down.headers
    finally:
        redis_server.start()
    assert client.get("/health").status_code == 200
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})  # nothing was persisted
    assert client.get("/spot-prices/us-east-1/t3.micro").status_code == 200


@pytest.mark.parametrize(
    "path, takes",
    [("/spot-prices/us-east-1/t3.micro", "product"),
     ("/spot-prices/us-east-1/t3.micro/history", "product, since, until, zone"),
     ("/best-price/t3.micro", "product, regions, max_age"),
     ("/regions", None), ("/health", None), ("/healthz", None), ("/readyz", None),
     ("/metrics", None), ("/openapi.json", None)],
)
def test_unknown_query_parameters_are_a_400_on_every_route(
    store: Store, client: ContractClient, path: str, takes: str | None
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    for query in ("verbose=1", "verbose", "product=linux&verbose=1&x=2"):
        if takes is None and "product" in query:
            query = query.replace("product=linux&", "")
        result = client.get(path, query_string=query)
        assert (result.status_code, result.json["error"]["code"]) == (400, "invalid_parameter")
        message = result.json["error"]["message"]
        assert "'verbose'" in message
        assert (takes in message) if takes else ("takes no query parameters" in message)
    assert client.get(path).status_code in (200, 503)


@pytest.mark.parametrize(
    "query, named, meant",
    [("region=eu-west-1", "region", "regions"), ("max-age=1s", "max-age", "max_age"),
     ("Product=linux", "Product", "product"), ("maxage=5m", "maxage", "max_age")],
)
def test_a_misspelt_query_parameter_is_named_with_the_one_meant(
    store: Store, client: ContractClient, query: str, named: str, meant: str
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    result = client.get("/best-price/t3.micro", query_string=query)
    assert (result.status_code, result.json["error"]["code"]) == (400, "invalid_parameter")
    assert f"{named!r} (did you mean {meant!r}?)" in result.json["error"]["message"]


@pytest.mark.parametrize(
    "path, same_length",
    [("/spot-prices/us-east-1/t3.micro", True), ("/spot-prices/us-east-1/t3.micro/history", True),
     ("/best-price/t3.micro", True), ("/regions", True), ("/openapi.json", True),
     ("/spot-prices/us-east-1/c5.large", True), ("/best-price/t3..micro", True),
     ("/health", False), ("/healthz", False), ("/readyz", False), ("/metrics", False)],
)
def test_head_is_answered_like_get_without_a_body_on_every_route(
    store: Store, client: ContractClient, path: str, same_length: bool
) -> None:
    seed(store, "us-east-1", {"t3.micro": {"us-east-1a": "0.0035"}})
    get = client.get(path)
    head = client.client.simulate_head(path)
    assert (head.status_code, head.content) == (get.status_code, b"")
    assert head.headers["content-type"] == get.headers["content-type"]
    if same_length:  # the others carry a latency, a worker id or counters that move
        assert int(head.headers["content-length"]) == len(get.content)
    # HEAD is checked for unknown query parameters like GET.
    assert client.client.simulate_head(path, query_string="x=1").status_code == 400
