"""`/best-price/{instance_type}`: the cheapest zone across regions, from one Redis read.

Ties are broken by region name, then zone name, so the answer never depends on hash order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import falcon

from spotter.api import answers, coverage, params, render
from spotter.api.deps import Resource
from spotter.model import RegionPrices, ZonePrice
from spotter.store import BestPriceView


@dataclass(frozen=True, slots=True)
class Choice:
    """The winner (if any) and how each region of the question was used."""

    best: tuple[RegionPrices, ZonePrice] | None
    considered: tuple[str, ...]
    missing: tuple[str, ...]
    too_old: tuple[str, ...]
    #: The regions of `missing` with no entry at all (the others' data is older than max_age).
    absent: tuple[str, ...]


def choose(
    view: BestPriceView, *, regions: tuple[str, ...] | None, max_age: float | None, now: float
) -> Choice:
    """Lowest price, then region name, then zone name, over regions with usable data.

    Without `regions`, the question covers every watched region and every region with data.
    """
    universe = set(regions) if regions is not None else set(view.watched) | set(view.entries)
    considered: list[str] = []
    too_old: list[str] = []
    best: tuple[RegionPrices, ZonePrice] | None = None
    for region in sorted(universe):
        entry = view.entries.get(region)
        if entry is None:
            continue
        if max_age is not None and now - entry.fetched_at > max_age:
            too_old.append(region)
            continue
        considered.append(region)
        for z in entry.zones:
            if best is None or _rank(entry, z) < _rank(*best):
                best = (entry, z)
    missing = tuple(sorted(universe - set(considered)))
    absent = tuple(r for r in missing if r not in view.entries)
    return Choice(best, tuple(considered), missing, tuple(too_old), absent)


def _rank(prices: RegionPrices, zone: ZonePrice) -> tuple[Decimal, str, str]:
    return (zone.price, prices.region, zone.zone)


class BestPriceResource(Resource):
    """The cheapest zone for a type across the watched (or the asked) regions."""

    QUERY = ("product", "regions", "max_age")

    def on_get(self, req: falcon.Request, resp: falcon.Response, instance_type: str) -> None:
        instance_type = params.instance_type(instance_type)
        product = params.product(req)
        regions = params.regions(req)
        max_age = params.max_age(req)
        now = self.deps.clock()
        view = self.deps.store.best_price_view(instance_type, product)
        if max_age is None:
            # Then the choice depends on the view alone: made once per (cached) view.
            choice = answers.memoized(
                view.memo, ("choice", regions),
                lambda: choose(view, regions=regions, max_age=None, now=now),
            )
        else:
            choice = choose(view, regions=regions, max_age=max_age, now=now)
        # Read only when some region has no entry: the common answer stays one round trip.
        facts = coverage.Facts(self.deps.store, choice.absent)
        if choice.absent:
            total = len(choice.considered) + len(choice.missing)
            coverage.check(view, choice.absent, total, facts, self.deps.settings)
        if choice.best is None:
            raise coverage.why_no_answer(
                choice, view, regions, (instance_type, product), max_age, facts,
                self.deps.settings, now,
            )
        prices, zone = choice.best
        expiry = self.deps.settings.cache_expiry

        def body() -> dict[str, Any]:
            considered, missing = len(choice.considered), list(choice.missing)
            return render.best_price(prices, zone, considered, missing, now, expiry)

        if max_age is None:
            stamp = render.clock_stamp(prices, now, expiry)
            answers.json_body(resp, view.memo, ("body", regions), stamp, body)
        else:
            resp.media = body()
