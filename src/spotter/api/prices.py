"""`/spot-prices/{region}/{instance_type}` and its `/history`: one region's zones."""

from __future__ import annotations

import falcon

from spotter.api import answers, params, render
from spotter.api.deps import Resource
from spotter.api.lookup import no_offer, stored_prices


class SpotPricesResource(Resource):
    """The latest price per zone, cheapest first; 404 `no_spot_offer` when no zone offers it."""

    QUERY = ("product",)

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, region: str, instance_type: str
    ) -> None:
        region, instance_type = params.region(region), params.instance_type(instance_type)
        product = params.product(req)
        settings = self.deps.settings
        view = self.deps.store.spot_prices_view(region, instance_type, product)
        prices = stored_prices(view, region, instance_type, product, settings, self.deps.store)
        if not prices.zones:
            raise no_offer(f"{instance_type} ({product})", f"in any zone of {region}",
                           [prices.source])
        now, expiry = self.deps.clock(), settings.cache_expiry
        answers.json_body(
            resp, view.memo, "body", render.clock_stamp(prices, now, expiry),
            lambda: render.spot_prices(prices, now, expiry),
        )


class HistoryResource(Resource):
    """Recorded price changes of one (region, type, product), oldest first."""

    QUERY = ("product", "since", "until", "zone")

    def on_get(
        self, req: falcon.Request, resp: falcon.Response, region: str, instance_type: str
    ) -> None:
        region, instance_type = params.region(region), params.instance_type(instance_type)
        product = params.product(req)
        window = params.window(req)
        zone = params.zone(req)
        store = self.deps.store
        # Resolve first so that an unknown or unwatched region is an error, not an empty list.
        view = store.spot_prices_view(region, instance_type, product)
        stored_prices(view, region, instance_type, product, self.deps.settings, store)
        since, until = window
        points = store.history(region, instance_type, product, since=since, until=until, zone=zone)
        resp.media = render.history(region, instance_type, product, window, zone, points)
