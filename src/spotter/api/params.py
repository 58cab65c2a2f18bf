"""Validation of path and query parameters; every malformed input becomes a 400, never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import falcon

from spotter.api.deps import ALLOWED
from spotter.api.errors import ApiError, bad_request
from spotter.api.wording import closest, count, names
from spotter.config import ConfigError, parse_duration
from spotter.model import (
    DEFAULT_PRODUCT,
    PRODUCT_BY_SLUG,
    PRODUCTS,
    VPC_SUFFIX,
    is_valid_instance_type,
    is_valid_region,
    is_valid_zone,
    parse_timestamp,
)

_NAMES = (*PRODUCTS, *(p + VPC_SUFFIX for p in PRODUCTS))
#: Every accepted spelling of a product (matched case-insensitively), for the OpenAPI enum.
PRODUCT_FORMS: tuple[str, ...] = (*_NAMES, *PRODUCT_BY_SLUG)
_PRODUCT_LOOKUP = {form.lower(): form.removesuffix(VPC_SUFFIX) for form in _NAMES} | dict(
    PRODUCT_BY_SLUG
)

# use1-az4, usw2-lax1-az1, use1-wl1-bos-wlz1: the account-independent zone ids.
ZONE_ID_RE = re.compile(r"^[a-z]{2,5}[0-9]{1,2}(?:-[a-z0-9]{1,12}){1,4}$")
DURATION_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,6})?(ms|s|m|h|d)?$"
MAX_REGIONS = 64


def _shown(value: str) -> str:
    # Errors echo what was sent, but never a whole 8 KB URL.
    return repr(value if len(value) <= 64 else value[:64] + "...")


class KnownQuery:
    """Middleware: a query parameter the route does not take (its resource's `QUERY`) is a 400
    naming it, never silently ignored: `?region=` or `?max-age=` would otherwise answer as if
    no filter had been asked for."""

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: object, params: object
    ) -> None:
        if resource is None or req.method not in ALLOWED:
            return  # no route (a 404), or a write (a 405): those answers come first
        accepted: tuple[str, ...] = getattr(resource, "QUERY", ())
        unknown = [name for name in req.params if name not in accepted]
        if unknown:
            raise unknown_parameters(unknown, accepted, req.uri_template or req.path)


def unknown_parameters(unknown: list[str], accepted: tuple[str, ...], route: str) -> ApiError:
    named = []
    for name in unknown:
        folded = name.lower().replace("-", "_")  # Product, max-age: the same name, mistyped
        guess = folded if folded in accepted else closest(folded, accepted)
        named.append(f"{_shown(name)} (did you mean {guess!r}?)" if guess else _shown(name))
    message = f"unknown query {'parameter' if len(unknown) == 1 else 'parameters'} {names(named)}"
    if accepted:
        message += f"; {route} takes {count(len(accepted), 'query parameter')}: "
        message += ", ".join(accepted)
    else:
        message += f"; {route} takes no query parameters"
    return bad_request("invalid_parameter", message)


def region(value: str) -> str:
    if not is_valid_region(value):
        raise bad_request(
            "invalid_region", f"{_shown(value)} is not a region code (e.g. us-east-1)"
        )
    return value


def instance_type(value: str) -> str:
    if not is_valid_instance_type(value):
        raise bad_request(
            "invalid_instance_type", f"{_shown(value)} is not an instance type (e.g. t3.micro)"
        )
    return value


def single(req: falcon.Request, name: str) -> str | None:
    """The one value of query parameter `name`; a repeated parameter is ambiguous, so a 400."""
    value = req.params.get(name)
    if isinstance(value, list):
        raise bad_request("invalid_parameter", f"query parameter {name!r} is given more than once")
    return value


def product(req: falcon.Request) -> str:
    """The product asked for: a name, its `(Amazon VPC)` form or a slug; Linux/UNIX by default."""
    value = single(req, "product")
    if value is None:
        return DEFAULT_PRODUCT
    found = _PRODUCT_LOOKUP.get(value.strip().lower())
    if found is None:
        raise bad_request(
            "invalid_product",
            f"{_shown(value)} is not a product; one of {', '.join(PRODUCTS)} "
            f"(or their '{VPC_SUFFIX.strip()}' forms, or {', '.join(PRODUCT_BY_SLUG)})",
        )
    return found


def regions(req: falcon.Request) -> tuple[str, ...] | None:
    """`?regions=a,b` (or `regions=a&regions=b`): validated, de-duplicated; None if not given."""
    value = req.params.get("regions")
    if value is None:
        return None
    if isinstance(value, list):
        value = ",".join(value)
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise bad_request("invalid_parameter", "regions: give at least one region code")
    if len(items) > MAX_REGIONS:
        raise bad_request("invalid_parameter", f"regions: at most {MAX_REGIONS} regions")
    for item in items:
        region(item)
    return tuple(dict.fromkeys(items))


def max_age(req: falcon.Request) -> float | None:
    """`?max_age=300` or `5m`, `1.5h`, `250ms`: seconds; None when not given."""
    value = single(req, "max_age")
    if value is None:
        return None
    if not re.fullmatch(DURATION_PATTERN, value):
        raise _bad_duration(value)
    try:
        return parse_duration(value, name="max_age")
    except ConfigError:
        raise _bad_duration(value) from None


def _bad_duration(value: str) -> ApiError:
    return bad_request(
        "invalid_parameter", f"max_age: {_shown(value)} is not a duration (e.g. 300, 30s, 5m, 1h)"
    )


def moment(req: falcon.Request, name: str) -> datetime | None:
    """An ISO-8601 / RFC 3339 query parameter as an aware UTC datetime (naive means UTC)."""
    value = single(req, name)
    if value is None:
        return None
    text = value.strip().upper()
    # An unescaped "+" in a query string arrives as a space: "...T02:40:00 01:00".
    text = re.sub(r"(T[0-9:.]+) ([0-9]{2}(?::?[0-9]{2})?)$", r"\1+\2", text)
    # RFC 3339 allows what Python does not: a leap second, and any number of fraction digits.
    text = re.sub(r"(T[0-9]{2}:[0-9]{2}):60", r"\1:59", text)
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
    try:
        return parse_timestamp(text)
    except OverflowError:
        # Year 1 at +05:00 (or 9999 at -05:00) is before (after) anything datetime can hold.
        return (datetime.min if text.startswith("0001") else datetime.max).replace(tzinfo=UTC)
    except ValueError:
        raise bad_request(
            "invalid_parameter",
            f"{name}: {_shown(value)} is not ISO-8601 (e.g. 2024-12-24T02:40:00Z)",
        ) from None


def window(req: falcon.Request) -> tuple[datetime | None, datetime | None]:
    """`?since=` and `?until=`; a window that ends before it starts is a 400 (the two were
    swapped, or one is wrong), not an empty answer that looks like "no price changes"."""
    since, until = moment(req, "since"), moment(req, "until")
    if since is not None and until is not None and since > until:
        raise bad_request(
            "invalid_parameter",
            f"since ({_shown(req.params['since'])}) is later than until "
            f"({_shown(req.params['until'])}): the window ends before it starts",
        )
    return since, until


def zone(req: falcon.Request) -> str | None:
    """`?zone=` as a zone name (us-east-1a) or a zone id (use1-az4)."""
    value = single(req, "zone")
    if value is None:
        return None
    if not (is_valid_zone(value) or (len(value) <= 48 and ZONE_ID_RE.fullmatch(value))):
        raise bad_request(
            "invalid_parameter", f"zone: {_shown(value)} is not a zone name or id (e.g. us-east-1a)"
        )
    return value
