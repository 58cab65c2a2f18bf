"""`/metrics`: requests by route template and status, their latency and the requests in flight,
followed by what Redis holds (spot prices per zone, freshness per region), read at scrape time.

With PROMETHEUS_MULTIPROC_DIR set (as under Gunicorn), every worker writes its samples to that
directory and any worker answering a scrape sums them all (see spotter.api.multiproc).
"""

from __future__ import annotations

import gzip
import time

import falcon
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

from spotter.api import multiproc
from spotter.api.deps import Deps, ReadOnly
from spotter.api.storemetrics import StoreMetrics

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Bodies smaller than this are sent as they are: compressing them gains nothing.
_GZIP_MIN_BYTES = 4096


class Metrics:
    """The API's request metrics in their own registry, so that several apps in one process
    (tests) never collide in the global one."""

    def __init__(self) -> None:
        # prometheus_client itself reads this variable from the process environment (at import)
        # to decide where samples go, so the exposition must follow the same source.
        self.multiproc_dir = multiproc.configured_dir()
        if self.multiproc_dir:
            multiproc.ensure(self.multiproc_dir)
        self.registry = CollectorRegistry()
        labels = ("route", "method", "status")
        self.requests = Counter(
            "spotter_http_requests", "HTTP requests answered, by route template and status.",
            labels, registry=self.registry,
        )
        self.latency = Histogram(
            "spotter_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status.", labels,
            buckets=_BUCKETS, registry=self.registry,
        )
        # liveall: one series per live worker (label pid); a dead worker's series goes away.
        self.in_flight = Gauge(
            "spotter_http_requests_in_flight", "Requests being answered, per worker process.",
            registry=self.registry, multiprocess_mode="liveall",
        )

    def exposition(self) -> bytes:
        if self.multiproc_dir is None:
            return _generate_latest(self.registry)
        return multiproc.exposition(self.multiproc_dir)


class MetricsMiddleware:
    """Times every request, including those answered by an error handler."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()
        self.metrics.in_flight.inc()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", None)
        if started is None:
            return
        self.metrics.in_flight.dec()
        # Templates, not paths, and a closed set of methods: label values stay few.
        route = req.uri_template or "unmatched"
        method = req.method if req.method in _METHODS else "other"
        labels = (route, method, str(resp.status_code))
        self.metrics.requests.labels(*labels).inc()
        self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)


class MetricsResource(ReadOnly):
    """Prometheus text exposition: the request metrics, then the store's. Redis being down
    never fails a scrape: the store part then says so (spotter_store_up 0)."""

    def __init__(self, metrics: Metrics, deps: Deps) -> None:
        self.metrics = metrics
        self.store_metrics = StoreMetrics(deps)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = self.metrics.exposition() + self.store_metrics.exposition()
        resp.content_type = CONTENT_TYPE_LATEST
        resp.vary = ("Accept-Encoding",)
        if len(body) >= _GZIP_MIN_BYTES and "gzip" in (req.get_header("Accept-Encoding") or ""):
            body = gzip.compress(body, compresslevel=1)
            resp.set_header("Content-Encoding", "gzip")
        resp.data = body
