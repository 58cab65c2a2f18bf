"""The spot price fetch of one region: DescribeSpotPriceHistory with StartTime=now, every page,
both product forms, reduced to the newest record per (type, zone, product)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.client import BaseClient

from spotter.aws.errors import CALL_ERRORS, AwsError, classify
from spotter.model import (
    ERROR_OTHER,
    PriceParseError,
    Quote,
    aws_product_forms,
    normalize_product,
    parse_price,
    parse_timestamp,
)

log = logging.getLogger(__name__)

#: Types per call. The whole default watch fits in one call; larger lists are split.
TYPES_PER_CALL = 200
#: The documented maximum page size of the older model; larger is not relied on.
PAGE_SIZE = 1000
#: A safety stop for a server that never ends its pages.
MAX_PAGES = 500


@dataclass
class RegionFetch:
    """What one region's fetch produced: quotes per product and what it cost."""

    region: str
    quotes: dict[str, list[Quote]] = field(default_factory=dict)
    calls: int = 0
    pages: int = 0
    records: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def fetch_region(
    client: BaseClient,
    region: str,
    instance_types: Sequence[str],
    products: Sequence[str],
    *,
    now: datetime,
    zone_ids: dict[str, str] | None = None,
    region_enabled: bool | None = None,
    page_size: int = PAGE_SIZE,
) -> RegionFetch:
    """Current prices of `instance_types` x `products` in `region`, one Quote per zone.

    Raises AwsError (classified) when any call fails: a region's snapshot is all or nothing.
    """
    result = RegionFetch(region)
    asked_forms = {form: product for product in products for form in aws_product_forms(product)}
    newest: dict[tuple[str, str, str], tuple[datetime, bool, Quote]] = {}
    for chunk in _chunks(list(dict.fromkeys(instance_types)), TYPES_PER_CALL):
        request: dict[str, Any] = {
            "InstanceTypes": chunk,
            "ProductDescriptions": sorted(asked_forms),
            "StartTime": now,
            "MaxResults": page_size,
        }
        for record in _pages(client, region, request, result, region_enabled):
            quote = _quote(record, region, set(chunk), asked_forms, zone_ids, result)
            if quote is None:
                continue
            is_vpc = record["ProductDescription"].endswith("(Amazon VPC)")
            key = (quote.instance_type, quote.zone, quote.product)
            # The newest change wins. On a tie between the two forms, the "(Amazon VPC)" one
            # wins: every account launches into a VPC since EC2-Classic was retired.
            rank = (quote.price_changed_at, is_vpc)
            if key not in newest or rank > newest[key][:2]:
                newest[key] = (quote.price_changed_at, is_vpc, quote)
    for product in products:
        result.quotes[product] = []
    for _, _, quote in newest.values():
        result.quotes[quote.product].append(quote)
    return result


def _pages(
    client: BaseClient,
    region: str,
    request: dict[str, Any],
    result: RegionFetch,
    region_enabled: bool | None,
) -> Iterable[dict[str, Any]]:
    """Every record of every page; an empty page may still carry a token."""
    seen_tokens: set[str] = set()
    token: str | None = None
    for _ in range(MAX_PAGES):
        call = dict(request, NextToken=token) if token else request
        result.calls += 1
        try:
            response = client.describe_spot_price_history(**call)
        except CALL_ERRORS as exc:
            raise classify(exc, region, region_enabled=region_enabled) from exc
        result.pages += 1
        records = response.get("SpotPriceHistory", [])
        result.records += len(records)
        yield from records
        token = response.get("NextToken") or None
        if token is None:
            return
        if token in seen_tokens:
            raise AwsError(
                ERROR_OTHER,
                "RepeatedNextToken",
                "DescribeSpotPriceHistory repeated a NextToken; pages incomplete",
                region,
            )
        seen_tokens.add(token)
    raise AwsError(ERROR_OTHER, "TooManyPages", f"more than {MAX_PAGES} pages", region)


def _quote(
    record: dict[str, Any],
    region: str,
    asked_types: set[str],
    asked_forms: dict[str, str],
    zone_ids: dict[str, str] | None,
    result: RegionFetch,
) -> Quote | None:
    """A Quote from one record, or None (counted) when the record is not what was asked."""
    instance_type = record.get("InstanceType")
    if instance_type not in asked_types:
        result.reject("instance_type_not_asked")
        return None
    description = record.get("ProductDescription", "")
    if description not in asked_forms or normalize_product(description) is None:
        result.reject("product_not_asked")
        return None
    zone = record.get("AvailabilityZone")
    zone_id = record.get("AvailabilityZoneId") or (zone_ids or {}).get(zone or "")
    if not zone or not _zone_in_region(zone, zone_id, region, zone_ids):
        result.reject("zone_not_in_region")
        return None
    try:
        price = parse_price(record.get("SpotPrice"))
        changed = parse_timestamp(record.get("Timestamp"))
    except (PriceParseError, ValueError) as exc:
        result.reject("unparseable")
        log.warning("%s: dropped a record: %s", region, exc)
        return None
    return Quote(region, instance_type, asked_forms[description], zone, zone_id, price, changed)


def _zone_in_region(
    zone: str, zone_id: str | None, region: str, zone_ids: dict[str, str] | None
) -> bool:
    if zone_ids and zone in zone_ids:
        return True
    # A zone missing from the (rarely refreshed) map may be new; it still has to be named
    # after the region we queried (us-east-1a, us-west-2-lax-1a). The region itself always
    # comes from the query, never from cutting the zone's name.
    return re.fullmatch(re.escape(region) + r"(?:[a-z]|-[a-z0-9-]+)", zone) is not None


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
