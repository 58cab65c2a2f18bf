"""The pure choice behind /best-price: ranking, ties, filters and what counts as missing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from spotter.api.best import choose
from spotter.model import RegionPrices, ZonePrice
from spotter.store import BestPriceView

CHANGED = datetime(2024, 12, 24, tzinfo=UTC)
NOW = 10_000.0


def entry(region: str, *zones: tuple[str, str], fetched_at: float = NOW - 10) -> RegionPrices:
    return RegionPrices(region, "t3.micro", "Linux/UNIX", fetched_at, "aws-api", tuple(
        ZonePrice(zone, None, Decimal(price), CHANGED) for zone, price in zones))


def view(*entries: RegionPrices, watched: tuple[str, ...] = ()) -> BestPriceView:
    return BestPriceView({e.region: e for e in entries}, frozenset(watched), {})


def winner(choice) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    return choice.best[0].region, choice.best[1].zone


def test_lowest_price_wins_whatever_the_stored_order() -> None:
    v = view(entry("us-east-1", ("us-east-1a", "0.0040"), ("us-east-1b", "0.0031")),
             entry("eu-west-1", ("eu-west-1a", "0.0035")))
    assert winner(choose(v, regions=None, max_age=None, now=NOW)) == ("us-east-1", "us-east-1b")


def test_equal_prices_go_to_the_lower_region_then_the_lower_zone() -> None:
    v = view(entry("us-west-2", ("us-west-2a", "0.003")),
             entry("eu-west-1", ("eu-west-1c", "0.0030"), ("eu-west-1b", "0.00300")))
    assert winner(choose(v, regions=None, max_age=None, now=NOW)) == ("eu-west-1", "eu-west-1b")


def test_watched_regions_without_data_are_missing_and_empty_offers_are_considered() -> None:
    v = view(entry("us-east-1", ("us-east-1a", "0.01")), entry("eu-west-1"),
             watched=("us-east-1", "eu-west-1", "ap-east-1", "af-south-1"))
    choice = choose(v, regions=None, max_age=None, now=NOW)
    assert choice.considered == ("eu-west-1", "us-east-1")
    assert choice.missing == ("af-south-1", "ap-east-1")


def test_regions_restrict_the_question_and_unknown_ones_are_missing() -> None:
    v = view(entry("us-east-1", ("us-east-1a", "0.01")), entry("eu-west-1", ("eu-west-1a", "0.02")))
    choice = choose(v, regions=("eu-west-1", "xx-nowhere-1"), max_age=None, now=NOW)
    assert winner(choice) == ("eu-west-1", "eu-west-1a")
    assert (choice.considered, choice.missing) == (("eu-west-1",), ("xx-nowhere-1",))


def test_max_age_drops_old_data_into_missing() -> None:
    v = view(entry("us-east-1", ("us-east-1a", "0.01"), fetched_at=NOW - 900),
             entry("eu-west-1", ("eu-west-1a", "0.02"), fetched_at=NOW - 60))
    choice = choose(v, regions=None, max_age=300, now=NOW)
    assert winner(choice) == ("eu-west-1", "eu-west-1a")
    assert (choice.missing, choice.too_old) == (("us-east-1",), ("us-east-1",))
    assert choose(v, regions=None, max_age=10, now=NOW).best is None
