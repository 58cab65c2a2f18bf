"""The domain types shared by every part of Spotter: products, zones, quotes and snapshots.

Pure values and validators only; nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

#: The four products Spotter speaks of. AWS also sends each with a " (Amazon VPC)" suffix.
PRODUCTS: tuple[str, ...] = ("Linux/UNIX", "SUSE Linux", "Red Hat Enterprise Linux", "Windows")
DEFAULT_PRODUCT = "Linux/UNIX"
VPC_SUFFIX = " (Amazon VPC)"

DEFAULT_INSTANCE_TYPES: tuple[str, ...] = (
    "t2.micro",
    "t2.small",
    "t2.medium",
    "t3.micro",
    "t3.small",
    "t3.medium",
    "c5.large",
    "c5.xlarge",
    "r5.large",
    "r5.xlarge",
    "p4d.24xlarge",
    "x2gd.xlarge",
    "inf1.xlarge",
    "c6gn.xlarge",
    "r6g.xlarge",
    "m6g.xlarge",
    "t4g.xlarge",
    "g5.xlarge",
    "trn1.2xlarge",
    "vt1.3xlarge",
    "dl1.24xlarge",
    "hpc6a.48xlarge",
)

# us-east-1, us-gov-west-1, eusc-de-east-1, ap-southeast-7: letters, dash-separated words, a number.
REGION_RE = re.compile(r"^[a-z]{2,4}(?:-[a-z]{2,12}){1,3}-[1-9][0-9]?$")
# t3.micro, u-6tb1.metal, c7i-flex.large, mac2-m2pro.metal: family "." size; no empty parts.
INSTANCE_TYPE_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*$")
INSTANCE_TYPE_MAX_LEN = 40
# us-east-1a, us-west-2-lax-1a, us-east-1-wl1-bos-wlz-1
ZONE_RE = re.compile(r"^[a-z]{2,4}(?:-[a-z0-9]{1,12}){2,8}$")


def is_valid_region(name: str) -> bool:
    """True when `name` looks like an AWS region code (whether or not it exists)."""
    return len(name) <= 32 and REGION_RE.fullmatch(name) is not None


def is_valid_instance_type(name: str) -> bool:
    """True when `name` looks like an EC2 instance type such as `t3.micro`."""
    return len(name) <= INSTANCE_TYPE_MAX_LEN and INSTANCE_TYPE_RE.fullmatch(name) is not None


def is_valid_zone(name: str) -> bool:
    """True when `name` looks like an availability zone name (regular, Local or Wavelength)."""
    return len(name) <= 48 and ZONE_RE.fullmatch(name) is not None


def normalize_product(description: str) -> str | None:
    """Map an AWS ProductDescription (either form) to Spotter's product, or None if unknown."""
    base = description.removesuffix(VPC_SUFFIX)
    return base if base in PRODUCTS else None


def aws_product_forms(product: str) -> tuple[str, str]:
    """Both AWS spellings of a product: the classic one and the `(Amazon VPC)` one."""
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; expected one of {', '.join(PRODUCTS)}")
    return product, product + VPC_SUFFIX


def product_slug(product: str) -> str:
    """A short, key-safe name for a product: `Linux/UNIX` -> `linux`."""
    return _SLUGS[product]


_SLUGS = {
    "Linux/UNIX": "linux",
    "SUSE Linux": "suse",
    "Red Hat Enterprise Linux": "rhel",
    "Windows": "windows",
}
PRODUCT_BY_SLUG = {slug: product for product, slug in _SLUGS.items()}


_PRICE_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")


class PriceParseError(ValueError):
    """A SpotPrice string that is not a positive finite decimal number."""


def parse_price(text: object) -> Decimal:
    """Parse an AWS SpotPrice string exactly. Zero, negative, NaN and garbage are rejected.

    Only AWS's plain notation (`0.031200`) is accepted: Decimal alone would also take `1E-999999`
    (0.0 as a float, so a price of 0 in the API), `1E+999999` (infinite as a float, not JSON),
    `1_000` and other scripts' digits.
    """
    if not isinstance(text, str) or not text or len(text) > 32:
        raise PriceParseError(f"spot price {text!r} is not a decimal string")
    if not _PRICE_RE.fullmatch(text.strip()):
        raise PriceParseError(f"spot price {text!r} is not a plain decimal number")
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise PriceParseError(f"spot price {text!r} is not a decimal number") from exc
    if not value.is_finite() or value <= 0:
        raise PriceParseError(f"spot price {text!r} is not a positive finite number")
    return value


class TimestampOutOfRange(ValueError, OverflowError):
    """A valid timestamp that datetime cannot hold in UTC (year 1 at +05:00, 9999 at -05:00).

    A ValueError for every caller that rejects bad input, and still an OverflowError for the
    API, which clamps such a query bound to the earliest or latest moment.
    """


def parse_timestamp(value: object) -> datetime:
    """Parse an AWS timestamp (datetime or ISO-8601 text) into an aware UTC datetime.

    Raises ValueError (only) for what is not one."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and 0 < len(value) <= 40:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"timestamp {value!r} is not ISO-8601") from exc
    else:
        raise ValueError(f"timestamp {value!r} is not ISO-8601")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise TimestampOutOfRange(f"timestamp {value!r} is out of range in UTC") from None


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with a `Z`, to the second: `2024-12-24T02:40:00Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ZonePrice:
    """The current spot price of one instance type in one zone, for one product."""

    zone: str
    zone_id: str | None
    price: Decimal
    price_changed_at: datetime


@dataclass(frozen=True, slots=True)
class Quote:
    """The latest known price of one (product, region, instance type, zone)."""

    region: str
    instance_type: str
    product: str
    zone: str
    zone_id: str | None
    price: Decimal
    price_changed_at: datetime

    def zone_price(self) -> ZonePrice:
        return ZonePrice(self.zone, self.zone_id, self.price, self.price_changed_at)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """All quotes of one region and product from one successful fetch.

    `instance_types` lists every type the fetch asked for: a type asked for with no quote has
    no spot offer in the region (which is an answer, not missing data).
    """

    region: str
    product: str
    fetched_at: datetime
    source: str
    instance_types: tuple[str, ...]
    quotes: tuple[Quote, ...] = field(default=())

    def by_type(self) -> dict[str, list[ZonePrice]]:
        """Zone prices grouped per asked type, cheapest first; types with no offer map to []."""
        grouped: dict[str, list[ZonePrice]] = {t: [] for t in self.instance_types}
        for quote in self.quotes:
            grouped.setdefault(quote.instance_type, []).append(quote.zone_price())
        for prices in grouped.values():
            prices.sort(key=lambda z: (z.price, z.zone))
        return grouped


#: Where prices came from, as reported in every answer.
SOURCE_AWS = "aws-api"
SOURCE_REPLAY = "replay"
SOURCES = (SOURCE_AWS, SOURCE_REPLAY)


#: How a failed fetch is classified, so callers can act on the kind.
ERROR_THROTTLED = "throttled"
ERROR_NOT_ENABLED = "not_enabled"
ERROR_UNAUTHORIZED = "unauthorized"
ERROR_OTHER = "other"
ERROR_KINDS = (ERROR_THROTTLED, ERROR_NOT_ENABLED, ERROR_UNAUTHORIZED, ERROR_OTHER)


@dataclass(frozen=True, slots=True)
class RegionPrices:
    """What the store holds for one (product, region, instance type): its zones, cheapest first.

    An empty `zones` means the type was asked for and has no spot offer in the region.
    """

    region: str
    instance_type: str
    product: str
    fetched_at: float
    source: str
    zones: tuple[ZonePrice, ...]

    @property
    def cheapest(self) -> ZonePrice | None:
        return self.zones[0] if self.zones else None


@dataclass(frozen=True, slots=True)
class RegionStatus:
    """How fetching one region is going: last success, last error, quote count."""

    region: str
    state: str = "pending"  # pending | ok | error | not_enabled | unauthorized | throttled
    last_success: float | None = None
    last_attempt: float | None = None
    last_error_kind: str | None = None
    last_error_message: str | None = None
    last_error_at: float | None = None
    quotes: int = 0
    next_check: float | None = None


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One recorded price change of one (product, region, type, zone)."""

    zone: str
    zone_id: str | None
    price: Decimal
    changed_at: datetime
