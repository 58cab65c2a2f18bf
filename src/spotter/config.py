"""Settings from the environment, parsed once per process into a frozen object.

The original service's variables keep working (REDIS_HOST, UPDATE_INTERVAL, ...); new ones are
SPOTTER_*. Every bad value raises ConfigError naming the variable, so a process stops at start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlsplit

from spotter.model import (
    DEFAULT_INSTANCE_TYPES,
    DEFAULT_PRODUCT,
    PRODUCTS,
    SOURCE_AWS,
    SOURCES,
    is_valid_instance_type,
    is_valid_region,
)


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str, *, name: str = "duration") -> float:
    """Seconds from `300`, `300s`, `5m`, `1.5h`, `7d` or `250ms`."""
    match = _DURATION_RE.match(text or "")
    if not match:
        raise ConfigError(f"{name}: {text!r} is not a duration (examples: 300, 30s, 5m, 1h, 7d)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_list(text: str) -> list[str]:
    """Split a comma- or whitespace-separated list; empty items are dropped."""
    return [item for item in re.split(r"[,\s]+", text.strip()) if item]


def parse_instance_types(text: str, *, name: str = "INSTANCE_TYPES") -> tuple[str, ...]:
    """Validated, de-duplicated instance types in their given order."""
    items = parse_list(text)
    if not items:
        raise ConfigError(f"{name}: no instance types given")
    for item in items:
        if not is_valid_instance_type(item):
            raise ConfigError(f"{name}: {item!r} is not an instance type (expected e.g. t3.micro)")
    return tuple(dict.fromkeys(items))


def parse_regions(text: str, *, name: str = "SPOTTER_REGIONS") -> tuple[str, ...]:
    """Validated regions; the empty tuple means every region enabled for the account (`all`)."""
    items = parse_list(text)
    if not items or items == ["all"]:
        return ()
    for item in items:
        if not is_valid_region(item):
            raise ConfigError(f"{name}: {item!r} is not a region code (expected e.g. us-east-1)")
    return tuple(dict.fromkeys(items))


def parse_products(text: str, *, name: str = "SPOTTER_PRODUCTS") -> tuple[str, ...]:
    """Validated products (comma-separated; `all` for every product)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if items == ["all"]:
        return PRODUCTS
    if not items:
        raise ConfigError(f"{name}: no products given")
    for item in items:
        if item not in PRODUCTS:
            raise ConfigError(f"{name}: {item!r} is not a product; one of {', '.join(PRODUCTS)}")
    return tuple(dict.fromkeys(items))


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe for logs and errors.

    Works on the text, not on urlsplit: a password holding '/', '?', '#' or '[' (or a URL that
    urlsplit refuses) must still be hidden. Everything before the last '@' after the scheme is
    user info; with a ':' in it, what follows the first ':' is the password.
    """
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at:
        return url if "@" not in url else "***"
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:***@{host}" if colon else url


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Spotter process reads from its environment."""

    redis_url: str = "redis://localhost:6379/0"
    redis_pool_size: int = 10
    redis_timeout: float = 2.0
    redis_prefix: str = "spotter"
    update_interval: float = 300.0
    cache_expiry: float = 600.0
    log_level: str = "INFO"
    log_format: str = "plain"
    instance_types: tuple[str, ...] = DEFAULT_INSTANCE_TYPES
    regions: tuple[str, ...] = ()
    products: tuple[str, ...] = (DEFAULT_PRODUCT,)
    api_host: str = "0.0.0.0"
    api_port: int = 5001
    gunicorn_workers: int = 2
    gunicorn_threads: int = 4
    aws_endpoint_url: str | None = None
    aws_max_attempts: int = 4
    aws_connect_timeout: float = 5.0
    aws_read_timeout: float = 20.0
    source: str = SOURCE_AWS
    # Every region of a cycle at once: a fetch mostly waits on AWS, and waves of regions
    # would multiply the cycle's length (34 commercial regions at 8 a time: 5 waves).
    fetch_concurrency: int = 64
    history_retention: float = 7 * 86400.0
    not_enabled_recheck: float = 6 * 3600.0
    fetcher_metrics_port: int = 0
    read_cache: bool = True
    extra: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def redacted_redis_url(self) -> str:
        return redact_url(self.redis_url)

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Parse settings from `env` (default: os.environ). Raises ConfigError on bad values."""
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            redis_url=_redis_url(env),
            redis_pool_size=reader.integer("SPOTTER_REDIS_POOL_SIZE", 10, low=1, high=1000),
            redis_timeout=reader.duration("SPOTTER_REDIS_TIMEOUT", 2.0, low=0.05, high=60),
            redis_prefix=reader.word("SPOTTER_REDIS_PREFIX", "spotter"),
            update_interval=reader.duration("UPDATE_INTERVAL", 300.0, low=1, high=86400),
            cache_expiry=reader.duration("CACHE_EXPIRY", 600.0, low=1, high=30 * 86400),
            log_level=reader.choice(
                "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True
            ),
            log_format=reader.choice("SPOTTER_LOG_FORMAT", "plain", ("plain", "json")),
            instance_types=(
                parse_instance_types(env["INSTANCE_TYPES"])
                if env.get("INSTANCE_TYPES", "").strip()
                else DEFAULT_INSTANCE_TYPES
            ),
            regions=parse_regions(env.get("SPOTTER_REGIONS", "all")),
            products=parse_products(env.get("SPOTTER_PRODUCTS", DEFAULT_PRODUCT)),
            api_host=env.get("API_HOST", "0.0.0.0").strip() or "0.0.0.0",
            api_port=reader.integer("API_PORT", 5001, low=1, high=65535),
            gunicorn_workers=reader.integer("GUNICORN_WORKERS", 2, low=1, high=256),
            gunicorn_threads=reader.integer("SPOTTER_GUNICORN_THREADS", 4, low=1, high=256),
            aws_endpoint_url=_endpoint_url(env),
            aws_max_attempts=reader.integer("AWS_MAX_ATTEMPTS", 4, low=1, high=20),
            aws_connect_timeout=reader.duration(
                "SPOTTER_AWS_CONNECT_TIMEOUT", 5.0, low=0.1, high=300
            ),
            aws_read_timeout=reader.duration("SPOTTER_AWS_READ_TIMEOUT", 20.0, low=0.1, high=600),
            source=reader.choice("SPOTTER_SOURCE", SOURCE_AWS, SOURCES),
            fetch_concurrency=reader.integer("SPOTTER_FETCH_CONCURRENCY", 64, low=1, high=64),
            history_retention=reader.duration(
                "SPOTTER_HISTORY_RETENTION", 7 * 86400.0, low=60, high=90 * 86400
            ),
            not_enabled_recheck=reader.duration(
                "SPOTTER_NOT_ENABLED_RECHECK", 6 * 3600.0, low=1, high=7 * 86400
            ),
            fetcher_metrics_port=reader.integer(
                "SPOTTER_FETCHER_METRICS_PORT", 0, low=0, high=65535
            ),
            read_cache=reader.choice("SPOTTER_READ_CACHE", "on", ("on", "off")) == "on",
            extra={k: v for k, v in env.items() if k.startswith("SPOTTER_")},
        )
        return settings


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def _raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return None if value is None or not value.strip() else value.strip()

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}: {value} is out of range ({low}..{high})")
        return value

    def duration(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self._raw(name)
        if raw is None:
            return default
        value = parse_duration(raw, name=name)
        if not low <= value <= high:
            raise ConfigError(f"{name}: {raw!r} is out of range ({low:g}s..{high:g}s)")
        return value

    def choice(self, name: str, default: str, options: tuple[str, ...], upper: bool = False) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        value = raw.upper() if upper else raw.lower() if raw.lower() in options else raw
        if value not in options:
            raise ConfigError(f"{name}: {raw!r} is not one of {', '.join(options)}")
        return value

    def word(self, name: str, default: str) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", raw):
            raise ConfigError(f"{name}: {raw!r} must be 1-40 letters, digits, '_', '.' or '-'")
        return raw


def _redis_url(env: Mapping[str, str]) -> str:
    url = env.get("REDIS_URL", "").strip()
    if url:
        try:
            parts = urlsplit(url)
            usable = parts.scheme in ("redis", "rediss", "unix") and bool(
                parts.hostname or parts.path
            )
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            usable = False
        if not usable:
            raise ConfigError(f"REDIS_URL: {redact_url(url)!r} is not a redis:// URL")
        return url
    host = env.get("REDIS_HOST", "localhost").strip() or "localhost"
    if not re.fullmatch(r"[A-Za-z0-9_.:\-\[\]]{1,253}", host):
        raise ConfigError(f"REDIS_HOST: {host!r} is not a host name")
    port_text = env.get("REDIS_PORT", "6379").strip() or "6379"
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"REDIS_PORT: {port_text!r} is not a port number")
    db_text = env.get("REDIS_DB", "0").strip() or "0"
    if not db_text.isdigit():
        raise ConfigError(f"REDIS_DB: {db_text!r} is not a database number")
    password = env.get("REDIS_PASSWORD", "")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{int(port_text)}/{int(db_text)}"


def _endpoint_url(env: Mapping[str, str]) -> str | None:
    for name in ("SPOTTER_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL"):
        value = env.get(name, "").strip()
        if value:
            try:
                scheme = urlsplit(value).scheme
            except ValueError:  # e.g. "http://[": an unclosed IPv6 bracket
                scheme = ""
            if scheme not in ("http", "https"):
                raise ConfigError(f"{name}: {value!r} is not an http(s) URL")
            return value
    return None
