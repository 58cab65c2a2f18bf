"""JSON bodies of successful answers. Prices are JSON numbers rendered from the exact Decimal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from spotter.model import HistoryPoint, RegionPrices, RegionStatus, ZonePrice, format_timestamp


def price(value: Decimal) -> float:
    # float() of a Decimal from AWS (at most ~8 significant digits) prints back the same digits.
    return float(value)


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else format_timestamp(datetime.fromtimestamp(epoch, UTC))


def age(now: float, epoch: float | None) -> float | None:
    # Clocks of the fetcher and the API may differ a little: never report a negative age.
    return None if epoch is None else round(max(0.0, now - epoch), 1)


def is_stale(now: float, epoch: float | None, expiry: float) -> bool:
    """No successful fetch at all, or the last one is older than `expiry` seconds."""
    return epoch is None or now - epoch > expiry


def zone(z: ZonePrice) -> dict[str, Any]:
    return {
        "zone": z.zone,
        "zone_id": z.zone_id,
        "price": price(z.price),
        "price_changed_at": format_timestamp(z.price_changed_at),
    }


def clock_stamp(prices: RegionPrices, now: float, expiry: float) -> tuple[float | None, bool]:
    """Everything of `freshness` that depends on the clock: equal stamps, equal bodies."""
    return age(now, prices.fetched_at), is_stale(now, prices.fetched_at, expiry)


def freshness(prices: RegionPrices, now: float, expiry: float) -> dict[str, Any]:
    return {
        "source": prices.source,
        "cached_at": iso(prices.fetched_at),
        "age_seconds": age(now, prices.fetched_at),
        "stale": is_stale(now, prices.fetched_at, expiry),
    }


def spot_prices(prices: RegionPrices, now: float, expiry: float) -> dict[str, Any]:
    return {
        "instance_type": prices.instance_type,
        "region": prices.region,
        "product": prices.product,
        "prices": {z.zone: price(z.price) for z in prices.zones},
        "zones": [zone(z) for z in prices.zones],
        **freshness(prices, now, expiry),
    }


def best_price(
    prices: RegionPrices,
    best: ZonePrice,
    considered: int,
    missing: list[str],
    now: float,
    expiry: float,
) -> dict[str, Any]:
    return {
        "instance_type": prices.instance_type,
        "region": prices.region,
        "price": price(best.price),
        "availability_zone": best.zone,
        "zone_id": best.zone_id,
        "price_changed_at": format_timestamp(best.price_changed_at),
        "product": prices.product,
        **freshness(prices, now, expiry),
        "regions_considered": considered,
        "regions_missing": missing,
    }


def history(
    region: str,
    instance_type: str,
    product: str,
    window: tuple[datetime | None, datetime | None],
    zone_filter: str | None,
    points: list[HistoryPoint],
) -> dict[str, Any]:
    since, until = window
    return {
        "instance_type": instance_type,
        "region": region,
        "product": product,
        "zone": zone_filter,
        "since": _any_year(since),
        "until": _any_year(until),
        "points": [
            {
                "zone": p.zone,
                "zone_id": p.zone_id,
                "price": price(p.price),
                "changed_at": format_timestamp(p.changed_at),
            }
            for p in points
        ],
    }


def region_status(
    status: RegionStatus, opt_in_status: str | None, now: float, expiry: float
) -> dict[str, Any]:
    error = None
    if status.last_error_kind:
        error = {
            "kind": status.last_error_kind,
            "message": status.last_error_message or "",
            "at": iso(status.last_error_at),
        }
    return {
        "region": status.region,
        "state": status.state,
        "last_success": iso(status.last_success),
        "age_seconds": age(now, status.last_success),
        "stale": is_stale(now, status.last_success, expiry),
        "last_attempt": iso(status.last_attempt),
        "last_error": error,
        "quotes": status.quotes,
        "next_check": iso(status.next_check),
        "opt_in_status": opt_in_status,
    }


def _any_year(moment: datetime | None) -> str | None:
    # strftime("%Y") drops the zeros of years before 1000; isoformat keeps four digits.
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
