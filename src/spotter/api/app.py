"""The app factory and Gunicorn's entry point: `gunicorn 'spotter.api.app:get_app()'`."""

from __future__ import annotations

import time
from collections.abc import Callable

import falcon

from spotter.api import errors, params
from spotter.api.best import BestPriceResource
from spotter.api.deps import Deps, StoreHandle
from spotter.api.health import HealthResource, LivenessResource, ReadinessResource
from spotter.api.metrics import Metrics, MetricsMiddleware, MetricsResource
from spotter.api.openapi import OpenApiResource
from spotter.api.prices import HistoryResource, SpotPricesResource
from spotter.api.regions import RegionsResource
from spotter.api.requestid import RequestIdMiddleware
from spotter.config import Settings
from spotter.logs import configure_logging
from spotter.store import Store


def create_app(
    store: Store | Callable[[], Store],
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
) -> falcon.App:
    """The API over `store`: a Store, or a factory called once per process on first use."""
    stores = StoreHandle.of(store) if isinstance(store, Store) else StoreHandle(store)
    deps = Deps(stores, settings, clock)
    metrics = Metrics()
    app = falcon.App(
        middleware=[RequestIdMiddleware(), MetricsMiddleware(metrics), params.KnownQuery()]
    )
    app.req_options.strip_url_path_trailing_slash = True
    app.add_route("/spot-prices/{region}/{instance_type}", SpotPricesResource(deps))
    app.add_route("/spot-prices/{region}/{instance_type}/history", HistoryResource(deps))
    app.add_route("/best-price/{instance_type}", BestPriceResource(deps))
    app.add_route("/regions", RegionsResource(deps))
    app.add_route("/health", HealthResource(deps))
    app.add_route("/healthz", LivenessResource())
    app.add_route("/readyz", ReadinessResource(deps))
    app.add_route("/metrics", MetricsResource(metrics, deps))
    app.add_route("/openapi.json", OpenApiResource())
    errors.install(app)
    return app


def get_app() -> falcon.App:
    """Read the environment and build the app; the Store is made lazily in each worker."""
    settings = Settings.from_env()
    configure_logging(settings, "api")
    return create_app(lambda: Store.from_settings(settings), settings)
