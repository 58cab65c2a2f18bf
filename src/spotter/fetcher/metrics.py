"""Fetcher metrics, served on their own port (SPOTTER_FETCHER_METRICS_PORT; 0 = off).

AWS calls are counted per attempt through botocore's event hooks on each region's client, so
retries botocore makes by itself are seen too; region outcomes come from the fetch loop.
"""

from __future__ import annotations

from typing import Any

from botocore.client import BaseClient
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from spotter.aws.errors import THROTTLE_CODES
from spotter.fetcher.outcome import FAILED, OK, CycleReport, RegionOutcome

SPOT_PRICE_HISTORY = "DescribeSpotPriceHistory"
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)


class FetcherMetrics:
    """The fetcher's metrics in their own registry (tests run several fetchers per process)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.aws_requests = Counter(
            "spotter_aws_requests", "AWS API attempts (each retry counts), by outcome: ok, "
            "throttled, client_error, server_error or network_error.",
            ("region", "operation", "outcome"), registry=r,
        )
        self.aws_pages = Counter(
            "spotter_aws_pages", "DescribeSpotPriceHistory pages received.", ("region",),
            registry=r,
        )
        self.aws_throttles = Counter(
            "spotter_aws_throttles", "AWS API attempts refused by throttling.",
            ("region", "operation"), registry=r,
        )
        self.fetch_errors = Counter(
            "spotter_fetch_errors", "Region fetches that failed (last good data kept), by "
            "kind (throttled, not_enabled, unauthorized, other, store) and error code.",
            ("region", "kind", "code"), registry=r,
        )
        self.fetch_outcomes = Counter(
            "spotter_fetch_outcomes", "Region fetch attempts by outcome (ok, failed, "
            "skipped_fresh, skipped_locked, skipped_not_enabled).", ("region", "outcome"),
            registry=r,
        )
        self.fetch_duration = Histogram(
            "spotter_fetch_duration_seconds", "Time to fetch and store one region (AWS calls, "
            "retries and the Redis write), for fetches that ran.", ("region",),
            buckets=_DURATION_BUCKETS, registry=r,
        )
        self.last_success = Gauge(
            "spotter_region_last_success_timestamp_seconds",
            "Unix time of this fetcher's last successful fetch of the region.", ("region",),
            registry=r,
        )
        self.cycle_duration = Histogram(
            "spotter_fetch_cycle_duration_seconds", "Time of one cycle over every region.",
            buckets=_DURATION_BUCKETS, registry=r,
        )

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Expose /metrics on `port` from a daemon thread."""
        start_http_server(port, addr=addr, registry=self.registry)

    # -- AWS attempts ---------------------------------------------------------------------------

    def instrument(self, client: BaseClient, region: str) -> BaseClient:
        """Count every attempt `client` makes (its events are its own: one client per region)."""

        def on_response(
            response_dict: dict[str, Any] | None,
            parsed_response: dict[str, Any] | None,
            exception: BaseException | None,
            event_name: str,
            **_: Any,
        ) -> None:
            operation = event_name.rsplit(".", 1)[-1]
            outcome = _outcome(response_dict, parsed_response, exception)
            self.aws_requests.labels(region, operation, outcome).inc()
            if outcome == "throttled":
                self.aws_throttles.labels(region, operation).inc()
            elif outcome == "ok" and operation == SPOT_PRICE_HISTORY:
                self.aws_pages.labels(region).inc()

        client.meta.events.register("response-received.ec2.*", on_response)
        return client

    # -- region outcomes ------------------------------------------------------------------------

    def region_done(self, outcome: RegionOutcome) -> None:
        region = outcome.region
        self.fetch_outcomes.labels(region, outcome.state).inc()
        if outcome.state in (OK, FAILED):
            self.fetch_duration.labels(region).observe(outcome.seconds)
        if outcome.state == OK and outcome.fetched_at is not None:
            self.last_success.labels(region).set(outcome.fetched_at)
        elif outcome.state == FAILED:
            if outcome.error is not None:
                kind, code = outcome.error.kind, outcome.error.code
            else:  # the Redis write failed: the fetch is lost all the same
                kind, code = "store", "StoreUnavailable"
            self.fetch_errors.labels(region, kind, code).inc()

    def cycle_done(self, report: CycleReport) -> None:
        self.cycle_duration.observe(report.seconds)


def _outcome(
    response: dict[str, Any] | None,
    parsed: dict[str, Any] | None,
    exception: BaseException | None,
) -> str:
    if exception is not None or response is None:
        return "network_error"
    status = int(response.get("status_code") or 0)
    code = str(((parsed or {}).get("Error") or {}).get("Code") or "")
    if code in THROTTLE_CODES or status == 429:
        return "throttled"
    if status >= 500:
        return "server_error"
    if status >= 300:
        return "client_error"
    return "ok"
