"""Request count and latency per route template and status, exposed at `/metrics`.

With PROMETHEUS_MULTIPROC_DIR set (as under Gunicorn), every worker writes its samples to that
directory and any worker answering a scrape sums them all.
"""

from __future__ import annotations

import os
import time

import falcon
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from spotter.api.deps import ReadOnly

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The API's metrics in their own registry, so that several apps in one process (tests)
    never collide in the global one."""

    def __init__(self) -> None:
        # prometheus_client itself reads this variable from the process environment (at import)
        # to decide where samples go, so the exposition must follow the same source.
        self.multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self.registry = CollectorRegistry()
        labels = ("route", "method", "status")
        self.requests = Counter(
            "spotter_api_requests", "HTTP requests answered.", labels, registry=self.registry
        )
        self.latency = Histogram(
            "spotter_api_request_duration_seconds", "Time to answer an HTTP request.", labels,
            buckets=_BUCKETS, registry=self.registry,
        )

    def exposition(self) -> bytes:
        if self.multiproc_dir is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiproc_dir)
        return generate_latest(registry)


class MetricsMiddleware:
    """Times every request, including those answered by an error handler."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        started = getattr(req.context, "started", None)
        if started is None:
            return
        # Templates, not paths, and a closed set of methods: label values stay few.
        route = req.uri_template or "unmatched"
        method = req.method if req.method in _METHODS else "other"
        labels = (route, method, str(resp.status_code))
        self.metrics.requests.labels(*labels).inc()
        self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)


class MetricsResource(ReadOnly):
    """Prometheus text exposition."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = self.metrics.exposition()
        resp.content_type = CONTENT_TYPE_LATEST
