"""The OpenAPI 3.1 document of every route, built from the same patterns the code validates.

Response schemas are strict (`additionalProperties: false`) so a contract test catches drift.
"""

from __future__ import annotations

import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import falcon

from spotter.api.deps import ReadOnly
from spotter.api.errors import ERROR_CODES
from spotter.api.params import DURATION_PATTERN, MAX_REGIONS, PRODUCT_FORMS, ZONE_ID_RE
from spotter.model import (
    DEFAULT_PRODUCT,
    INSTANCE_TYPE_MAX_LEN,
    INSTANCE_TYPE_RE,
    PRODUCTS,
    REGION_RE,
    SOURCES,
    ZONE_RE,
)

Schema = dict[str, Any]

TIMESTAMP: Schema = {
    "type": "string", "format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
}
MAYBE_TIMESTAMP: Schema = {**TIMESTAMP, "type": ["string", "null"]}
PRICE: Schema = {"type": "number", "exclusiveMinimum": 0, "description": "USD per hour"}
AGE: Schema = {"type": "number", "minimum": 0, "description": "seconds since cached_at"}
REGION: Schema = {"type": "string", "pattern": REGION_RE.pattern, "maxLength": 32,
                  "examples": ["us-east-1"]}
INSTANCE_TYPE: Schema = {"type": "string", "pattern": INSTANCE_TYPE_RE.pattern,
                         "maxLength": INSTANCE_TYPE_MAX_LEN, "examples": ["t3.micro"]}
MAYBE_STRING: Schema = {"type": ["string", "null"]}


def _object(properties: dict[str, Schema], **extra: Any) -> Schema:
    return {"type": "object", "required": list(properties), "additionalProperties": False,
            "properties": properties, **extra}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Schema] = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "enum": list(ERROR_CODES)},
        "message": {"type": "string"},
    })}),
    "ZoneQuote": _object({
        "zone": {"type": "string"}, "zone_id": MAYBE_STRING, "price": PRICE,
        "price_changed_at": {**TIMESTAMP, "description": "when AWS last changed this price"},
    }),
    "SpotPrices": _object({
        "instance_type": INSTANCE_TYPE, "region": REGION,
        "product": {"type": "string", "enum": list(PRODUCTS)},
        "prices": {"type": "object", "additionalProperties": PRICE,
                   "description": "zone name -> price"},
        "zones": {"type": "array", "minItems": 1, "items": _ref("ZoneQuote"),
                  "description": "cheapest first (then by zone name)"},
        "source": {"type": "string", "enum": list(SOURCES)},
        "cached_at": {**TIMESTAMP, "description": "when Spotter fetched these prices"},
        "age_seconds": AGE,
        "stale": {"type": "boolean", "description": "age_seconds > the cache expiry"},
    }),
    "BestPrice": _object({
        "instance_type": INSTANCE_TYPE, "region": REGION, "price": PRICE,
        "availability_zone": {"type": "string"}, "zone_id": MAYBE_STRING,
        "price_changed_at": TIMESTAMP,
        "product": {"type": "string", "enum": list(PRODUCTS)},
        "source": {"type": "string", "enum": list(SOURCES)},
        "cached_at": TIMESTAMP, "age_seconds": AGE, "stale": {"type": "boolean"},
        "regions_considered": {"type": "integer", "minimum": 1,
                               "description": "regions whose data was compared"},
        "regions_missing": {"type": "array", "items": REGION,
                            "description": "watched or asked regions without usable data"},
    }),
    "HistoryPoint": _object({
        "zone": {"type": "string"}, "zone_id": MAYBE_STRING, "price": PRICE,
        "changed_at": TIMESTAMP,
    }),
    "History": _object({
        "instance_type": INSTANCE_TYPE, "region": REGION,
        "product": {"type": "string", "enum": list(PRODUCTS)},
        "zone": MAYBE_STRING, "since": MAYBE_TIMESTAMP, "until": MAYBE_TIMESTAMP,
        "points": {"type": "array", "items": _ref("HistoryPoint"),
                   "description": "oldest first"},
    }),
    "RegionReport": _object({
        "region": REGION,
        "state": {"type": "string", "enum": ["pending", "ok", "error", "not_enabled",
                                             "unauthorized", "throttled"]},
        "last_success": MAYBE_TIMESTAMP,
        "age_seconds": {"type": ["number", "null"], "minimum": 0},
        "stale": {"type": "boolean"},
        "last_attempt": MAYBE_TIMESTAMP,
        "last_error": {
            "oneOf": [{"type": "null"}, _object({
                "kind": {"type": "string"}, "message": {"type": "string"},
                "at": MAYBE_TIMESTAMP,
            })],
        },
        "quotes": {"type": "integer", "minimum": 0},
        "next_check": MAYBE_TIMESTAMP,
        "opt_in_status": MAYBE_STRING,
    }),
    "Regions": _object({
        "regions": {"type": "array", "items": _ref("RegionReport")},
        "catalog": {"type": ["object", "null"], "additionalProperties": {"type": "string"},
                    "description": "region -> opt-in status, when the catalog is known"},
    }),
    "Health": _object({
        "status": {"type": "string", "enum": ["ok", "degraded", "down"]},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "redis": _object({
            "reachable": {"type": "boolean"},
            "latency_ms": {"type": ["number", "null"], "minimum": 0},
            "client_id": {"type": ["integer", "null"]},
        }),
        "regions": {"type": "object", "additionalProperties": _object({
            "state": {"type": "string"},
            "age_seconds": {"type": ["number", "null"], "minimum": 0},
            "stale": {"type": "boolean"},
        })},
        "worker": _object({"pid": {"type": "integer"}, "id": {"type": "string"}}),
    }),
    "Liveness": _object({
        "status": {"type": "string", "enum": ["alive"]},
        "worker": _object({"pid": {"type": "integer"}, "id": {"type": "string"}}),
    }),
    "Readiness": _object({
        "status": {"type": "string", "enum": ["ready", "not_ready"]},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "worker": _object({"pid": {"type": "integer"}, "id": {"type": "string"}}),
    }),
}


def _query(name: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description, **extra}


PARAMETERS: dict[str, Schema] = {
    "Region": {"name": "region", "in": "path", "required": True, "schema": REGION,
               "description": "AWS region code"},
    "InstanceType": {"name": "instance_type", "in": "path", "required": True,
                     "schema": INSTANCE_TYPE, "description": "EC2 instance type"},
    "Product": _query(
        "product", {"type": "string", "enum": list(PRODUCT_FORMS), "default": DEFAULT_PRODUCT},
        "product: a name, its '(Amazon VPC)' form or a slug, case-insensitive",
    ),
    "Regions": _query(
        "regions", {"type": "array", "items": REGION, "minItems": 1, "maxItems": MAX_REGIONS},
        "only consider these regions (comma-separated)", style="form", explode=False,
    ),
    "MaxAge": _query(
        "max_age", {"type": "string", "pattern": DURATION_PATTERN, "examples": ["300", "5m"]},
        "ignore regions whose data is older: seconds, or a duration such as 30s, 5m, 1h "
        "(leaving out every region with data: 503 no_fresh_data)",
    ),
    "Since": _query("since", {"type": "string", "format": "date-time"},
                    "only changes at or after this ISO-8601 time"),
    "Until": _query("until", {"type": "string", "format": "date-time"},
                    "only changes at or before this ISO-8601 time (not before since)"),
    "Zone": _query(
        "zone", {"type": "string", "maxLength": 48,
                 "anyOf": [{"pattern": ZONE_RE.pattern}, {"pattern": ZONE_ID_RE.pattern}]},
        "only this zone, by name (us-east-1a) or id (use1-az4); one the region has no "
        "prices of the type in is a 404 unknown_zone",
    ),
}

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying",
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


def _error(description: str, *, retry: bool = False) -> Schema:
    answer: Schema = {"description": description,
                      "content": {"application/json": {"schema": _ref("Error")}}}
    if retry:
        answer["headers"] = _RETRY_AFTER
    return answer


def _ok(description: str, schema: str) -> Schema:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema)}}}


BAD_REQUEST = _error("malformed region, instance type, product or query parameter, or a query "
                     "parameter the route does not take: invalid_region, "
                     "invalid_instance_type, invalid_product, invalid_parameter")
NO_QUERY = _error("invalid_parameter: any query parameter (this route takes none)")
UNAVAILABLE = _error("redis_unavailable (the store is unreachable), not_yet_fetched "
                     "or aws_unauthorized (no data yet); retry after Retry-After", retry=True)
INTERNAL = _error("internal_error: a fault of the service, logged")
# Gunicorn answers this itself, before the app, and in HTML: the one non-JSON error.
URI_TOO_LONG: Schema = {"description": "request line longer than 8190 bytes (from Gunicorn)",
                        "content": {"text/html": {"schema": {"type": "string"}}}}


def _get(summary: str, description: str, params: list[str], responses: dict[str, Schema],
         operation_id: str, tag: str) -> Schema:
    return {"get": {
        "operationId": operation_id, "summary": summary, "description": description,
        "tags": [tag],
        "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params],
        "responses": {**responses, "414": URI_TOO_LONG, "500": INTERNAL},
    }}


def _paths() -> dict[str, Schema]:
    return {
        "/spot-prices/{region}/{instance_type}": _get(
            "Latest spot price per zone",
            "Every zone offering the type in the region, cheapest first.",
            ["Region", "InstanceType", "Product"],
            {"200": _ok("prices per zone", "SpotPrices"), "400": BAD_REQUEST,
             "403": _error("region_not_enabled: the region is not enabled for the AWS account"),
             "404": _error("unknown_region, region_not_watched, instance_type_not_watched, "
                           "or no_spot_offer (no zone of the region offers the type)"),
             "503": UNAVAILABLE},
            "getSpotPrices", "prices",
        ),
        "/spot-prices/{region}/{instance_type}/history": _get(
            "Recorded price changes",
            "Price changes within the retention window, oldest first.",
            ["Region", "InstanceType", "Product", "Since", "Until", "Zone"],
            {"200": _ok("price changes", "History"), "400": BAD_REQUEST,
             "403": _error("region_not_enabled: the region is not enabled for the AWS account"),
             "404": _error("unknown_region, region_not_watched, instance_type_not_watched or "
                           "unknown_zone (`zone` is no zone of the region with prices of the "
                           "type)"),
             "503": UNAVAILABLE},
            "getSpotPriceHistory", "prices",
        ),
        "/best-price/{instance_type}": _get(
            "Cheapest zone across regions",
            "The lowest current price over the watched regions (or those in `regions`) whose "
            "data is no older than `max_age`. Ties are broken by region name, then by zone "
            "name, both ascending, so the answer is deterministic. While a watched region of "
            "the question has never been fetched, the answer is 503 `not_yet_fetched`: its "
            "prices may be lower. Regions that were tried and failed are listed in "
            "`regions_missing`.",
            ["InstanceType", "Product", "Regions", "MaxAge"],
            {"200": _ok("the cheapest zone", "BestPrice"), "400": BAD_REQUEST,
             "403": _error("region_not_enabled: no region of the question is enabled for the "
                           "AWS account"),
             "404": _error("no_spot_offer (no region considered offers the type), "
                           "instance_type_not_watched, region_not_watched (no region asked "
                           "for is watched) or unknown_region (a region asked for does not "
                           "exist)"),
             "503": _error("redis_unavailable (the store is unreachable), not_yet_fetched (a "
                           "region of the question has never been fetched), no_fresh_data "
                           "(max_age left out every region with data) or aws_unauthorized; "
                           "retry after Retry-After", retry=True)},
            "getBestPrice", "prices",
        ),
        "/regions": _get(
            "Watched regions and their fetch status",
            "Every watched region with its state, freshness and last error, and the "
            "account's region catalog (opt-in status) when known.",
            [], {"200": _ok("region report", "Regions"), "400": NO_QUERY,
                 "503": _error("redis_unavailable", retry=True)},
            "getRegions", "operations",
        ),
        "/health": _get(
            "Service health",
            "ok; degraded (200) when a region is stale, failing, unauthorized or not enabled; "
            "down (503) when Redis is unreachable.",
            [], {"200": _ok("ok or degraded", "Health"), "400": NO_QUERY,
                 "503": {**_ok("down: Redis unreachable", "Health"), "headers": _RETRY_AFTER}},
            "getHealth", "operations",
        ),
        "/healthz": _get(
            "Liveness probe",
            "The worker process answers; Redis is not consulted, so an outage of Redis never "
            "restarts the API.",
            [], {"200": _ok("alive", "Liveness"), "400": NO_QUERY},
            "getLiveness", "operations",
        ),
        "/readyz": _get(
            "Readiness probe",
            "ready when Redis answers (one round trip); not_ready (503) while it does not.",
            [], {"200": _ok("ready", "Readiness"), "400": NO_QUERY,
                 "503": {**_ok("not ready: Redis unreachable", "Readiness"),
                         "headers": _RETRY_AFTER}},
            "getReadiness", "operations",
        ),
        "/metrics": _get(
            "Prometheus metrics",
            "Prometheus text exposition format: requests by route template and status, "
            "spot prices per zone and per-region freshness, read from the store at scrape "
            "time. Compressed with gzip when the client accepts it.", [],
            {"200": {"description": "metrics",
                     "content": {"text/plain": {"schema": {"type": "string"}}}},
             "400": NO_QUERY},
            "getMetrics", "operations",
        ),
        "/openapi.json": _get(
            "This document", "The OpenAPI document of the API.", [],
            {"200": {"description": "OpenAPI 3.1 document",
                     "content": {"application/json": {"schema": {"type": "object"}}}},
             "400": NO_QUERY},
            "getOpenApi", "operations",
        ),
    }


@functools.cache
def document() -> dict[str, Any]:
    """The whole OpenAPI document (built once per process)."""
    try:
        api_version = version("spotter")
    except PackageNotFoundError:
        api_version = "0.0.0"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Spotter", "version": api_version,
            "description": "EC2 spot prices per region and zone, read from Spotter's store. "
                           "Errors are JSON {\"error\": {\"code\", \"message\"}}; trailing "
                           "slashes are ignored; a query parameter a route does not take is a "
                           "400 invalid_parameter; the API is read-only: GET, and HEAD (the same "
                           "answer without its body) on every route.",
        },
        "paths": _paths(),
        "components": {"schemas": SCHEMAS, "parameters": PARAMETERS},
    }


class OpenApiResource(ReadOnly):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = document()
