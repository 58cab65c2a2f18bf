"""DescribeSpotPriceHistory: parameters, window and clock, filters, paging and the XML items."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from spotter.model import is_valid_instance_type, parse_timestamp
from spotter.replay import wire
from spotter.replay.clock import ReplayClock
from spotter.replay.dataset import PriceRecord
from spotter.replay.tokens import PageState, query_digest
from spotter.replay.wire import ApiError

if TYPE_CHECKING:
    from spotter.replay.service import ReplayService

ACTION = "DescribeSpotPriceHistory"
Predicate = Callable[[PriceRecord], bool]


@dataclass(frozen=True, slots=True)
class _Request:
    """A checked DescribeSpotPriceHistory request."""

    instance_types: set[str] | None
    products: set[str] | None
    zones: set[str] | None
    zone_ids: set[str] | None
    keep: Predicate | None
    page_size: int
    start: datetime | None
    end: datetime | None


def describe_spot_price_history(
    service: ReplayService, region: str, form: Mapping[str, str], params: dict[str, Any]
) -> tuple[str, int]:
    """The response body (inside the envelope) and how many records it carries."""
    request = _parse(service, region, params)
    digest = query_digest(region, ACTION, form)
    token = wire.text(params, "NextToken")
    # A later page keeps the first page's snapshot, so a running clock cannot shift the pages.
    if token:
        state = service.tokens.decode(digest, token)
    else:
        state = first_page(service.clock, request.start, request.end)
    found = service.dataset.query(
        region,
        instance_types=request.instance_types,
        product_descriptions=request.products,
        zones=request.zones,
        zone_ids=request.zone_ids,
        start=state.start,
        end=state.end,
    )
    if request.keep is not None:
        found = [record for record in found if request.keep(record)]
    after = state.offset + request.page_size
    # EC2 sends an empty nextToken on the last page (botocore reads it as "").
    next_token = ""
    if after < len(found):
        next_token = service.tokens.encode(digest, replace(state, offset=after))
    page = found[state.offset : after]
    items = "".join(_item(record) for record in page)
    body = f"<spotPriceHistorySet>{items}</spotPriceHistorySet>"
    return body + wire.element("nextToken", next_token), len(page)


def _parse(service: ReplayService, region: str, params: dict[str, Any]) -> _Request:
    """Check every parameter as EC2 would, DryRun last (it only says the rest was fine)."""
    instance_types = wire.text_list(params, "InstanceType")
    for name in instance_types or ():
        if not is_valid_instance_type(name):
            raise ApiError("InvalidParameterValue", f"Invalid instance type: [{name}]")
    products = wire.text_list(params, "ProductDescription")
    zones, zone_ids = _zone_params(service, region, params)
    keep = _filter_predicate(wire.filters(params))
    page_size = _page_size(service.page_size, wire.integer(params, "MaxResults"))
    start, end = wire.timestamp(params, "StartTime"), wire.timestamp(params, "EndTime")
    if start is not None and end is not None and end < start:
        raise ApiError("InvalidParameterValue", "EndTime must not be before StartTime")
    if wire.boolean(params, "DryRun"):
        raise ApiError("DryRunOperation")
    return _Request(
        None if instance_types is None else set(instance_types),
        None if products is None else set(products),
        zones,
        zone_ids,
        keep,
        page_size,
        start,
        end,
    )


def first_page(clock: ReplayClock, start: datetime | None, end: datetime | None) -> PageState:
    """The replayed window of a new query: request times mapped, nothing after replayed now."""
    as_of = clock.now()
    mapped_end = as_of if end is None else clock.map_time(end, now=as_of)
    mapped_start = None if start is None else min(clock.map_time(start, now=as_of), mapped_end)
    return PageState(offset=0, as_of=as_of, start=mapped_start, end=mapped_end)


def _page_size(limit: int, max_results: int | None) -> int:
    if max_results is None:
        return limit
    if max_results < 1:
        raise ApiError("InvalidParameterValue", f"Value ({max_results}) for MaxResults is invalid")
    return min(max_results, limit)


def _zone_params(
    service: ReplayService, region: str, params: dict[str, Any]
) -> tuple[set[str] | None, set[str] | None]:
    zone, zone_id = wire.text(params, "AvailabilityZone"), wire.text(params, "AvailabilityZoneId")
    if zone and zone_id:
        raise ApiError(
            "InvalidParameterCombination",
            "AvailabilityZone and AvailabilityZoneId cannot be used together",
        )
    known = service.zones_of(region)
    if zone and zone not in known:
        raise ApiError("InvalidParameterValue", f"Invalid availability zone: [{zone}]")
    if zone_id and zone_id not in known.values():
        raise ApiError("InvalidParameterValue", f"Invalid availability zone ID: [{zone_id}]")
    return ({zone} if zone else None), ({zone_id} if zone_id else None)


def _filter_predicate(filters: list[tuple[str, list[str]]]) -> Predicate | None:
    """All filters must match; within one filter any value may (EC2's rule)."""
    tests = [_one_filter(name, values) for name, values in filters]
    if not tests:
        return None
    return lambda record: all(test(record) for test in tests)


def _one_filter(name: str, values: list[str]) -> Predicate:
    patterns = [wire.wildcard(value) for value in values]

    def text_of(get: Callable[[PriceRecord], str]) -> Predicate:
        return lambda r: any(p.fullmatch(get(r)) for p in patterns)

    if name == "availability-zone":
        return text_of(lambda r: r.zone)
    if name == "instance-type":
        return text_of(lambda r: r.instance_type)
    if name == "product-description":
        return text_of(lambda r: r.product_description)
    if name == "spot-price":
        exact = {d for d in map(_decimal, values) if d is not None}
        by_text = text_of(lambda r: r.spot_price)
        return lambda r: by_text(r) or Decimal(r.spot_price) in exact
    if name == "timestamp":
        moments = {m for m in map(_moment, values) if m is not None}
        by_text = text_of(lambda r: wire.xml_time(r.timestamp))
        return lambda r: r.timestamp in moments or by_text(r)
    raise ApiError("InvalidParameterValue", f"The filter '{name}' is invalid")


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _moment(text: str) -> datetime | None:
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def _item(record: PriceRecord) -> str:
    return (
        "<item>"
        f"{wire.element('instanceType', record.instance_type)}"
        f"{wire.element('productDescription', record.product_description)}"
        f"{wire.element('spotPrice', record.spot_price)}"
        f"{wire.element('timestamp', wire.xml_time(record.timestamp))}"
        f"{wire.element('availabilityZone', record.zone)}"
        f"{wire.element('availabilityZoneId', record.zone_id)}"
        "</item>"
    )
