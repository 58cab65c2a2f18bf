"""Encoding of stored values. Prices travel as exact decimal strings, never floats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from spotter.model import HistoryPoint, RegionPrices, ZonePrice, format_timestamp


def encode_region_prices(fetched_at: float, source: str, zones: list[ZonePrice]) -> str:
    ordered = sorted(zones, key=lambda z: (z.price, z.zone))
    return json.dumps(
        {
            "fetched_at": fetched_at,
            "source": source,
            "zones": [
                [z.zone, z.zone_id, str(z.price), format_timestamp(z.price_changed_at)]
                for z in ordered
            ],
        },
        separators=(",", ":"),
    )


def decode_region_prices(
    raw: bytes | str, *, region: str, instance_type: str, product: str
) -> RegionPrices:
    doc = json.loads(raw)
    zones = tuple(
        ZonePrice(zone, zone_id, Decimal(price), _parse_z(changed))
        for zone, zone_id, price, changed in doc["zones"]
    )
    return RegionPrices(
        region=region,
        instance_type=instance_type,
        product=product,
        fetched_at=float(doc["fetched_at"]),
        source=str(doc["source"]),
        zones=zones,
    )


def encode_history_member(zone: ZonePrice) -> tuple[str, float]:
    epoch = zone.price_changed_at.timestamp()
    return f"{zone.zone}|{zone.zone_id or ''}|{zone.price}|{epoch:.0f}", epoch


def decode_history_member(raw: bytes | str) -> HistoryPoint:
    text = raw.decode() if isinstance(raw, bytes) else raw
    zone, zone_id, price, epoch = text.split("|")
    return HistoryPoint(
        zone=zone,
        zone_id=zone_id or None,
        price=Decimal(price),
        changed_at=datetime.fromtimestamp(int(epoch), UTC),
    )


def _parse_z(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def decode_zone_prices_brief(raw: bytes | str) -> list[tuple[str, str | None, str]]:
    """(zone, zone_id, price as its exact decimal text) of a stored entry, without parsing
    times or Decimals: what a metrics scrape of every quote needs, fast."""
    return [(zone, zone_id, price) for zone, zone_id, price, _ in json.loads(raw)["zones"]]
