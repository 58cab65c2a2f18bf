"""`/spot-prices/{region}/{instance_type}` and its `/history`: one region's zones."""

from __future__ import annotations

import re
from collections.abc import Callable

import falcon

from spotter.api import answers, params, render
from spotter.api.deps import Resource
from spotter.api.errors import not_found
from spotter.api.lookup import no_offer, stored_prices
from spotter.api.wording import names
from spotter.model import HistoryPoint, RegionPrices, is_valid_zone


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
        prices = stored_prices(view, region, instance_type, product, self.deps.settings, store)
        since, until = window
        points = store.history(region, instance_type, product, since=since, until=until)
        if zone is not None:
            whole = points if since is None and until is None else None
            points = in_zone(zone, points, prices, lambda: whole or store.history(
                region, instance_type, product))
        resp.media = render.history(region, instance_type, product, window, zone, points)


def in_zone(
    zone: str,
    points: list[HistoryPoint],
    prices: RegionPrices,
    everything: Callable[[], list[HistoryPoint]],
) -> list[HistoryPoint]:
    """The points of `zone` (a name or an id). 404 `unknown_zone` when it is no zone the region
    has prices of the type in, now or in the whole history (`everything`, read only then), or
    when its name is of another region: an empty list would read as "no price changes"."""
    matched = [p for p in points if zone in (p.zone, p.zone_id)]
    if matched:
        return matched
    known = {(z.zone, z.zone_id) for z in prices.zones}
    if not any(zone in pair for pair in known):
        known |= {(p.zone, p.zone_id) for p in everything()}
    if any(zone in pair for pair in known):
        return matched
    region, what = prices.region, f"{prices.instance_type} ({prices.product})"
    elsewhere = is_valid_zone(zone) and not re.match(re.escape(region) + "(?:[a-z]|-)", zone)
    if not known and not elsewhere:
        return matched  # no zone has prices of the type: nothing to tell a zone by
    message = (f"zone {zone} is not in {region}" if elsewhere
               else f"zone {zone} is not among the zones of {region} with prices of {what}")
    if known:
        listed = sorted(f"{name} ({zone_id})" if zone_id else name for name, zone_id in known)
        message += f"; {'those are' if len(listed) > 1 else 'that is'} {names(listed)}"
    raise not_found("unknown_zone", message)
