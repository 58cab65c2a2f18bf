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
from spotter.api.errors import ApiError, not_found, unavailable
from spotter.api.lookup import UNAUTHORIZED_MESSAGE, not_yet_fetched_retry
from spotter.api.wording import count, names
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


def _in(regions: tuple[str, ...]) -> str:
    """Where something was looked for: `in the 1 region considered (a)`, `in any of the 3 ...`."""
    if len(regions) == 1:
        return f"in the {count(1, 'region')} considered ({regions[0]})"
    return f"in any of the {count(len(regions), 'region')} considered"


def _not_watched(regions: tuple[str, ...]) -> str:
    if len(regions) == 1:
        return f"the region asked for ({regions[0]}) is not watched"
    return f"none of the {count(len(regions), 'region')} asked for ({names(regions)}) is watched"


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
            what = f"{instance_type} ({product})"
            raise self._no_answer(choice, view, regions, what, max_age, facts)
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

    def _no_answer(
        self,
        choice: Choice,
        view: BestPriceView,
        regions: tuple[str, ...] | None,
        what: str,
        max_age: float | None,
        facts: coverage.Facts,
    ) -> ApiError:
        """Why no zone won: no offer, data too old, regions not watched, or nothing fetched."""
        if choice.considered:
            return not_found("no_spot_offer", f"{what} has no spot offer {_in(choice.considered)}")
        if choice.too_old:
            return not_found(
                "no_spot_offer", f"no region has data on {what} younger than max_age={max_age:g}s"
            )
        asked = set(regions) if regions is not None else view.watched
        watched = sorted(view.watched & asked)
        if regions is not None and not watched:
            return not_found("region_not_watched", _not_watched(regions))
        return self._nothing_stored(watched, what, facts)

    def _nothing_stored(self, watched: list[str], what: str, facts: coverage.Facts) -> ApiError:
        settings = self.deps.settings
        retry = not_yet_fetched_retry(settings)
        if not watched:
            return unavailable("not_yet_fetched", "no region is watched yet", retry_after=retry)
        # Every region of the question is without an entry here: `facts` holds their statuses.
        statuses = [facts.status(region) for region in watched]
        if any(s.last_success is not None for s in statuses):
            return not_found(
                "instance_type_not_watched",
                f"{what} is not watched in any region; add it to a SpotWatch",
            )
        if any(s.state == "unauthorized" for s in statuses):
            return unavailable(
                "aws_unauthorized", f"no prices yet: the {UNAUTHORIZED_MESSAGE}",
                retry_after=settings.update_interval,
            )
        return unavailable(
            "not_yet_fetched", "no watched region has been fetched yet", retry_after=retry
        )
