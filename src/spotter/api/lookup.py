"""Why a (region, instance type) has no stored prices, told honestly as an ApiError."""

from __future__ import annotations

from collections.abc import Collection, Hashable
from typing import Any

from spotter.api import answers
from spotter.api.errors import ApiError, not_found, unavailable
from spotter.api.wording import closest, names
from spotter.config import Settings
from spotter.model import SOURCE_REPLAY, RegionPrices, RegionStatus
from spotter.store import SpotPricesView, Store

NOT_OPTED_IN = "not-opted-in"
UNAUTHORIZED_MESSAGE = "AWS credentials lack ec2:DescribeSpotPriceHistory (UnauthorizedOperation)"
#: What replayed data is: the recorded changes of a window of time, so a type without a recorded
#: price in a region may well have an offer there.
REPLAY_CAVEAT = "(a window of price changes, not every offer)"
#: Where a type or a region gets watched, for every way Spotter runs.
WATCH_TYPE = ("add it to a SpotWatch's instanceTypes (Kubernetes), or to INSTANCE_TYPES "
              "(spotter up / fetch) or --instance-types (spotter fetch)")


def watch_regions(n: int = 1) -> str:
    """Where a region gets watched, for every way Spotter runs."""
    return (f"add {'it' if n == 1 else 'them'} to a SpotWatch's regions (Kubernetes), or to "
            "SPOTTER_REGIONS or --regions (spotter up / fetch)")


def type_not_watched(
    store: Store,
    memo: dict[Hashable, Any],
    what: tuple[str, str],
    where: str,
    regions: Collection[str] | None,
) -> ApiError:
    """404 `instance_type_not_watched` for `what` (type, product), with the watched type of
    that product within two edits of it, if any (in `regions`, or anywhere when None). Read
    only on this error path, once per view (`memo`): the freshness hashes name the types."""
    instance_type, product = what

    def suggestion() -> str:
        stored = store.stored_index().stored
        known = {t for (p, r), types in stored.items()
                 if p == product and (regions is None or r in regions) for t in types}
        guess = closest(instance_type, known)
        return f" (did you mean {guess}?)" if guess else ""

    hint = answers.memoized(memo, ("did_you_mean", instance_type, product), suggestion)
    return not_found(
        "instance_type_not_watched",
        f"{instance_type} ({product}) is not watched {where}{hint}; {WATCH_TYPE}",
    )


def no_offer(what: str, where: str, sources: Collection[str], also: str = "") -> ApiError:
    """404 `no_spot_offer`, claiming no more than the data can tell: AWS's answer says the type
    has no spot offer; a replay holds only the price changes recorded in a window of time."""
    replayed = sum(1 for source in sources if source == SOURCE_REPLAY)
    if replayed == 0:
        message = f"{what} has no spot offer {where}"
    elif replayed == len(sources):
        message = f"no recorded spot price for {what} {where} in the replayed data {REPLAY_CAVEAT}"
    else:
        message = (f"{what} has no spot offer and no recorded spot price {where} "
                   f"({len(sources) - replayed} fetched from AWS, {replayed} replayed: "
                   f"{REPLAY_CAVEAT[1:-1]})")
    return not_found("no_spot_offer", message + also)


def not_yet_fetched_retry(settings: Settings) -> float:
    # The first fetch of a newly watched region comes within one interval, usually sooner.
    return min(settings.update_interval, 30.0)


def region_not_enabled(*regions: str) -> ApiError:
    if len(regions) == 1:
        message = (f"region {regions[0]} is not enabled for this AWS account (opt-in required); "
                   "enable it in the AWS account to get its prices")
    else:
        message = (f"regions {names(regions)} are not enabled for this AWS account (opt-in "
                   "required); enable them in the AWS account to get their prices")
    return ApiError(403, "region_not_enabled", message)


def stored_prices(
    view: SpotPricesView,
    region: str,
    instance_type: str,
    product: str,
    settings: Settings,
    store: Store,
) -> RegionPrices:
    """The stored prices (whose zones may be empty: no offer), or the error that says why not."""
    if view.prices is not None:
        return view.prices
    status = view.status
    if status.state == "not_enabled" or view.catalog_status == NOT_OPTED_IN:
        raise region_not_enabled(region)
    if not view.watched and not _has_traces(view):
        # Only on this error path, one more round trip: with nothing watched, nothing is known
        # yet (a new install, or a Redis that restarted empty and is being refilled), and "not
        # watched" or "unknown" would be a guess; the fetchers rewrite what they know within an
        # interval. A region watched by now was marked since the first read: not fetched yet.
        watched = store.watched_regions()
        if not watched or region in watched:
            raise unavailable(
                "not_yet_fetched",
                "nothing has been fetched yet (or the store was emptied); retry shortly",
                retry_after=not_yet_fetched_retry(settings),
            )
        if view.catalog_known and view.catalog_status is not None:
            raise not_found(
                "region_not_watched",
                f"region {region} exists but is not watched; {watch_regions()}",
            )
        raise unknown_region(region, store.catalog() if view.catalog_known else {})
    if not view.region_fetched:
        if status.state == "unauthorized":
            raise unavailable(
                "aws_unauthorized",
                f"no prices for {region}: the {UNAUTHORIZED_MESSAGE}",
                retry_after=settings.update_interval,
            )
        if status.last_success is None:
            raise unavailable(
                "not_yet_fetched",
                f"region {region} is watched but has not been fetched yet{_last_error(status)}",
                retry_after=not_yet_fetched_retry(settings),
            )
    # Fetched before (for this product, or for another one): this type or product is not asked.
    raise type_not_watched(store, view.memo, (instance_type, product), f"in {region}", [region])


def unknown_region(region: str, catalog: Collection[str]) -> ApiError:
    """404 `unknown_region`; with the catalog (when known), its region within two edits."""
    if not catalog:
        return not_found("unknown_region", f"unknown region {region}")
    guess = closest(region, catalog)
    hint = f" (did you mean {guess}?)" if guess else ""
    return not_found(
        "unknown_region",
        f"unknown region {region}{hint}: AWS lists no such region for this account",
    )


def _has_traces(view: SpotPricesView) -> bool:
    # Data or a fetch attempt proves the region exists even if no one watches it any more.
    return view.region_fetched or view.status.last_attempt is not None


def _last_error(status: RegionStatus) -> str:
    if not status.last_error_kind:
        return ""
    return f" (last attempt failed: {status.last_error_kind}: {status.last_error_message or ''})"
