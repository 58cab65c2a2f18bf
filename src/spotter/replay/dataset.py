"""Recorded spot price history: loading JSON lines (plain or gzip) and window queries.

One `SpotPriceHistory` item per line plus `Region`. The bundled default is real recorded data.
"""

from __future__ import annotations

import gzip
import json
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path

from spotter.model import (
    is_valid_instance_type,
    is_valid_region,
    is_valid_zone,
    normalize_product,
    parse_price,
    parse_timestamp,
)
from spotter.replay.catalog import Catalog, load_catalog

DEFAULT_DATASET = "spot-price-history-2022-05-31.jsonl.gz"
_GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(ValueError):
    """A dataset that cannot be loaded; the message names the file and, if any, the line."""


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """One recorded price change, as EC2 would report it."""

    region: str
    instance_type: str
    product_description: str
    spot_price: str
    timestamp: datetime
    zone: str
    zone_id: str | None


@dataclass(slots=True)
class _Series:
    """The changes of one (instance type, zone, product description), oldest first."""

    zone: str
    zone_id: str | None
    product_description: str
    times: list[datetime]
    records: list[PriceRecord]


class Dataset:
    """An immutable, indexed set of price records; safe to share between threads and servers."""

    def __init__(self, records: list[PriceRecord], source: str) -> None:
        if not records:
            raise DatasetError(f"{source}: no records")
        self.source = source
        self.records = len(records)
        self.regions: tuple[str, ...] = tuple(sorted({r.region for r in records}))
        self.instance_types: tuple[str, ...] = tuple(sorted({r.instance_type for r in records}))
        self.product_descriptions: tuple[str, ...] = tuple(
            sorted({r.product_description for r in records})
        )
        self.products: tuple[str, ...] = tuple(
            sorted({normalize_product(p) or p for p in self.product_descriptions})
        )
        self.start: datetime = min(r.timestamp for r in records)
        self.end: datetime = max(r.timestamp for r in records)
        self._index = _build_index(records)

    def zones(self, region: str) -> dict[str, str | None]:
        """Zone name -> zone id of every zone with records in `region`."""
        by_type = self._index.get(region, {})
        return {s.zone: s.zone_id for series in by_type.values() for s in series}

    def query(
        self,
        region: str,
        *,
        instance_types: Collection[str] | None = None,
        product_descriptions: Collection[str] | None = None,
        zones: Collection[str] | None = None,
        zone_ids: Collection[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[PriceRecord]:
        """Records of `region` in [start, end] plus, per series, the last change before `start`.

        None means "no restriction". Ordered newest first, as EC2 answers; ties are broken by
        instance type, zone and product so that the order (and so paging) is deterministic.
        """
        found: list[PriceRecord] = []
        for series in self._series(region, instance_types):
            if product_descriptions is not None and (
                series.product_description not in product_descriptions
            ):
                continue
            if zones is not None and series.zone not in zones:
                continue
            if zone_ids is not None and series.zone_id not in zone_ids:
                continue
            found.extend(_window(series, start, end))
        found.sort(key=_newest_first)
        return found

    def summary(self) -> str:
        """One line for humans: size, coverage and time range."""
        return (
            f"{self.records} records, {len(self.regions)} regions, "
            f"{len(self.instance_types)} instance types, products {', '.join(self.products)}; "
            f"{self.start.isoformat()} .. {self.end.isoformat()} (from {self.source})"
        )

    def _series(self, region: str, instance_types: Collection[str] | None) -> Iterator[_Series]:
        by_type = self._index.get(region, {})
        names = by_type.keys() if instance_types is None else instance_types
        for name in names:
            yield from by_type.get(name, ())


def _newest_first(record: PriceRecord) -> tuple[float, str, str, str]:
    return (
        -record.timestamp.timestamp(),
        record.instance_type,
        record.zone,
        record.product_description,
    )


def _window(series: _Series, start: datetime | None, end: datetime | None) -> list[PriceRecord]:
    times = series.times
    stop = len(times) if end is None else bisect_right(times, end)
    if start is None:
        return series.records[:stop]
    if end is not None and end < start:
        return []
    first = bisect_left(times, start)
    # The last change before the start is the price in force at the start: EC2 includes it,
    # unless a change falls exactly on the start and so replaces it.
    if first > 0 and (first == len(times) or times[first] > start):
        first -= 1
    return series.records[first:stop]


def _build_index(records: list[PriceRecord]) -> dict[str, dict[str, list[_Series]]]:
    grouped: dict[tuple[str, str, str, str], list[PriceRecord]] = {}
    for record in records:
        key = (record.region, record.instance_type, record.zone, record.product_description)
        grouped.setdefault(key, []).append(record)
    index: dict[str, dict[str, list[_Series]]] = {}
    for (region, instance_type, zone, product), items in sorted(grouped.items()):
        items.sort(key=lambda r: r.timestamp)
        series = _Series(zone, items[0].zone_id, product, [r.timestamp for r in items], items)
        index.setdefault(region, {}).setdefault(instance_type, []).append(series)
    return index


def load_dataset(path: str | Path | None = None) -> Dataset:
    """Load JSON lines (gzip detected by its magic bytes); None loads the bundled recording."""
    if path is None:
        return _bundled()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return _parse(raw, str(path), load_catalog())


@cache
def _bundled() -> Dataset:
    # Immutable once built, so one copy serves every server in the process.
    data = resources.files("spotter.replay").joinpath("data").joinpath(DEFAULT_DATASET).read_bytes()
    return _parse(data, f"bundled {DEFAULT_DATASET}", load_catalog())


def _parse(raw: bytes, source: str, catalog: Catalog) -> Dataset:
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{source}: broken gzip data: {exc}") from exc
    records = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(parse_record(line, catalog))
        except ValueError as exc:
            raise DatasetError(f"{source}: line {number}: {exc}") from None
    return Dataset(records, source)


def parse_record(line: bytes | str, catalog: Catalog) -> PriceRecord:
    """One dataset line as a record; ValueError says what is wrong with it."""
    try:
        item = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    region = _text(item, "Region")
    if not is_valid_region(region):
        raise ValueError(f"Region {region!r} is not a region code")
    instance_type = _text(item, "InstanceType")
    if not is_valid_instance_type(instance_type):
        raise ValueError(f"InstanceType {instance_type!r} is not an instance type")
    product = _text(item, "ProductDescription")
    if normalize_product(product) is None:
        raise ValueError(f"ProductDescription {product!r} is not a known product")
    price = _text(item, "SpotPrice")
    parse_price(price)  # validates; the recorded string is served as is
    timestamp = parse_timestamp(item.get("Timestamp"))
    zone, zone_id = _zone(item, region, catalog)
    return PriceRecord(region, instance_type, product, price, timestamp, zone, zone_id)


def _text(item: dict, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is missing or not a string")
    return value


def _zone(item: dict, region: str, catalog: Catalog) -> tuple[str, str | None]:
    name, zone_id = item.get("AvailabilityZone"), item.get("AvailabilityZoneId")
    if name is None and zone_id is None:
        raise ValueError("neither AvailabilityZone nor AvailabilityZoneId is given")
    if zone_id is not None:
        if not isinstance(zone_id, str) or not zone_id:
            raise ValueError("AvailabilityZoneId is not a string")
        known = catalog.zone_by_id(zone_id)
        if known is not None and known.region != region:
            raise ValueError(f"zone id {zone_id} is in {known.region}, not in {region}")
        if name is None:
            if known is None:
                raise ValueError(f"zone id {zone_id} has no known name; add AvailabilityZone")
            name = known.name
    if not isinstance(name, str) or not is_valid_zone(name):
        raise ValueError(f"AvailabilityZone {name!r} is not a zone name")
    if zone_id is None:
        known = catalog.zone_by_name(region, name)
        zone_id = known.zone_id if known else None
    return name, zone_id
