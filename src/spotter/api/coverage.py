"""Whether the regions of a `/best-price` question without data let it answer honestly, and
why no zone won when none did.

Consulted only when some region of the question has no entry for the type, so the common answer
stays one round trip: then the statuses of those regions (one more), and the catalog only when a
region could be not enabled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from spotter.api import answers
from spotter.api.errors import ApiError, not_found, unavailable
from spotter.api.lookup import (
    NOT_OPTED_IN,
    UNAUTHORIZED_MESSAGE,
    no_offer,
    not_yet_fetched_retry,
    region_not_enabled,
    type_not_watched,
    unknown_region,
    watch_regions,
)
from spotter.api.wording import count, has_have, names
from spotter.config import Settings
from spotter.model import RegionStatus
from spotter.store import BestPriceView, Store

if TYPE_CHECKING:
    from spotter.api.best import Choice


class Facts:
    """Statuses of some regions and the region catalog, each read at most once, when asked."""

    def __init__(self, store: Store, regions: Iterable[str]) -> None:
        self.store = store
        self._regions = tuple(regions)
        self._statuses: dict[str, RegionStatus] | None = None
        self._catalog: dict[str, str] | None = None

    def status(self, region: str) -> RegionStatus:
        if self._statuses is None:
            self._statuses = self.store.region_statuses(self._regions)
        return self._statuses.get(region) or RegionStatus(region=region)

    @property
    def catalog(self) -> dict[str, str]:
        if self._catalog is None:
            self._catalog = self.store.catalog()
        return self._catalog

    def not_enabled(self, region: str) -> bool:
        """Recorded so by a fetch, or not opted into by the account (the catalog says)."""
        status = self.status(region)
        if status.state == "not_enabled":
            return True
        if status.last_success is not None:
            return False  # fetched: enabled (and the catalog need not be read)
        return self.catalog.get(region) == NOT_OPTED_IN


def never_attempted(status: RegionStatus) -> bool:
    """No fetch of the region has ended yet, neither well nor badly."""
    return status.state == "pending" and status.last_attempt is None


def check(
    view: BestPriceView,
    absent: tuple[str, ...],
    total: int,
    facts: Facts,
    settings: Settings,
) -> None:
    """404 `unknown_region` for a region asked for that does not exist; 503 `not_yet_fetched`
    while a watched region of the question (`absent`: those without an entry, out of `total`)
    has never been attempted: its prices are not known, so no other region's can be called the
    cheapest. A region attempted once stays attempted, and one in the catalog stays there, so
    once all is well the (cached) view remembers it and later answers skip the reads."""
    settled = ("settled", absent)
    if view.memo.get(settled):
        return
    unwatched = [r for r in absent if r not in view.watched]  # only ever asked by ?regions=
    if unwatched and facts.catalog:
        unknown = [
            r for r in unwatched if r not in facts.catalog and never_attempted(facts.status(r))
        ]
        if unknown:
            raise _unknown_regions(unknown, facts.catalog)
    waiting = [r for r in absent if r in view.watched and never_attempted(facts.status(r))]
    if waiting:
        # A region the account has not opted into is recorded as such, never fetched: not waiting.
        waiting = [r for r in waiting if facts.catalog.get(r) != NOT_OPTED_IN]
    if waiting:
        n = len(waiting)
        raise unavailable(
            "not_yet_fetched",
            f"{n} of {count(total, 'region')} ({names(waiting)}) {has_have(n)} not been "
            "fetched yet, so no cheapest zone can be told; retry shortly, or ask ?regions= "
            "for regions with data",
            retry_after=not_yet_fetched_retry(settings),
        )
    if not unwatched or facts.catalog:  # without a catalog, whether a region exists is open
        answers.memoized(view.memo, settled, lambda: True)


def _unknown_regions(unknown: list[str], catalog: dict[str, str]) -> ApiError:
    if len(unknown) > 1:
        return not_found(
            "unknown_region",
            f"unknown regions {names(unknown)}: AWS lists no such regions for this account",
        )
    return unknown_region(unknown[0], catalog)


def why_no_answer(
    choice: Choice,
    view: BestPriceView,
    regions: tuple[str, ...] | None,
    asked: tuple[str, str],
    max_age: float | None,
    facts: Facts,
    settings: Settings,
    now: float,
) -> ApiError:
    """Why no zone won for `asked` (type, product): no offer, data too old, regions not
    watched, or nothing fetched."""
    what = f"{asked[0]} ({asked[1]})"
    if choice.considered:
        left_out = ""
        if choice.too_old:
            n = len(choice.too_old)
            left_out = (f"; {count(n, 'region')} with data older than max_age={max_age:g}s "
                        f"{'was' if n == 1 else 'were'} left out")
        sources = [view.entries[r].source for r in choice.considered]
        return no_offer(what, _in(choice.considered), sources, left_out)
    if choice.too_old:
        return _no_fresh_data(choice.too_old, view, what, max_age or 0.0, settings, now)
    # Nothing considered and nothing too old: no region of the question has an entry.
    if choice.absent and all(facts.not_enabled(r) for r in choice.absent):
        return region_not_enabled(*choice.absent)
    question = set(regions) if regions is not None else view.watched
    watched = sorted(view.watched & question)
    if regions is not None and not watched:
        return not_found("region_not_watched", _not_watched(regions))
    return _nothing_stored(watched, asked, view, facts, settings)


def _no_fresh_data(
    too_old: tuple[str, ...],
    view: BestPriceView,
    what: str,
    max_age: float,
    settings: Settings,
    now: float,
) -> ApiError:
    """Every region with data was left out by `?max_age=`: the data exists, it is not fresh
    enough yet; the freshest region's next fetch is when to ask again."""
    freshest = max(too_old, key=lambda r: (view.entries[r].fetched_at, r))
    fetched_at = view.entries[freshest].fetched_at
    next_fetch = fetched_at + settings.update_interval - now
    return unavailable(
        "no_fresh_data",
        f"no region has data on {what} younger than max_age={max_age:g}s: the freshest "
        f"({freshest}) is {max(0.0, now - fetched_at):.0f}s old",
        retry_after=next_fetch if next_fetch > 0 else not_yet_fetched_retry(settings),
    )


def _nothing_stored(
    watched: list[str],
    asked: tuple[str, str],
    view: BestPriceView,
    facts: Facts,
    settings: Settings,
) -> ApiError:
    retry = not_yet_fetched_retry(settings)
    if not watched:
        return unavailable("not_yet_fetched", "no region is watched yet", retry_after=retry)
    # Every region of the question is without an entry here: `facts` holds their statuses.
    statuses = [facts.status(region) for region in watched]
    if any(s.last_success is not None for s in statuses):
        # The view is not renewed when other types are written: a suggestion may lag a little.
        return type_not_watched(facts.store, view.memo, asked, "in any region", None)
    if all(facts.not_enabled(r) for r in watched):
        return region_not_enabled(*watched)
    if any(s.state == "unauthorized" for s in statuses):
        return unavailable(
            "aws_unauthorized", f"no prices yet: the {UNAUTHORIZED_MESSAGE}",
            retry_after=settings.update_interval,
        )
    return unavailable(
        "not_yet_fetched", "no watched region has been fetched yet", retry_after=retry
    )


def _in(regions: tuple[str, ...]) -> str:
    """Where something was looked for: `in the 1 region considered (a)`, `in any of the 3 ...`."""
    if len(regions) == 1:
        return f"in the {count(1, 'region')} considered ({regions[0]})"
    return f"in any of the {count(len(regions), 'region')} considered"


def _not_watched(regions: tuple[str, ...]) -> str:
    if len(regions) == 1:
        return f"the region asked for ({regions[0]}) is not watched; {watch_regions()}"
    n = len(regions)
    return (f"none of the {count(n, 'region')} asked for ({names(regions)}) is watched; "
            f"{watch_regions(n)}")
