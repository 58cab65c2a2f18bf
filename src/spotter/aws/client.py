"""boto3 EC2 clients: one per region, standard retry mode with bounded attempts."""

from __future__ import annotations

import functools
import re
import threading
from datetime import UTC, datetime

import boto3
import botocore.session
import botocore.utils
from botocore.client import BaseClient
from botocore.config import Config

from spotter.config import Settings

_SESSION_LOCK = threading.Lock()
# What EC2's query protocol sends: 2022-05-31T23:59:47.000Z
_ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


def parse_timestamp(value: str) -> datetime:
    """A response timestamp. EC2's ISO-8601 UTC form by the standard library (botocore's
    default goes through dateutil: most of the CPU a large DescribeSpotPriceHistory page
    costs); anything else by botocore's own parser."""
    if isinstance(value, str) and _ISO_UTC.fullmatch(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    return botocore.utils.parse_timestamp(value)


@functools.cache
def _session() -> botocore.session.Session:
    """The process's one botocore session, as boto3 recommends: service models parsed once
    (a Session per client parsed EC2's MBs of JSON again, ~170 ms of CPU each, which made a
    fetcher's first cycle CPU-bound), handlers registered once, the credential chain resolved
    once (botocore refreshes expiring credentials itself)."""
    session = botocore.session.get_session()
    parsers = session.get_component("response_parser_factory")
    parsers.set_parser_defaults(timestamp_parser=parse_timestamp)
    return session


def ec2_client(settings: Settings, region: str, *, max_attempts: int | None = None) -> BaseClient:
    """A new client for `region` (a client is never shared across regions). Clients are safe to
    use from any thread; the session they come from is not, so they are made one at a time."""
    config = Config(
        region_name=region,
        retries={
            "mode": "standard",
            "total_max_attempts": max_attempts or settings.aws_max_attempts,
        },
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
        max_pool_connections=4,
        user_agent_extra="spotter",
    )
    with _SESSION_LOCK:
        return _session().create_client(
            "ec2", config=config, endpoint_url=settings.aws_endpoint_url
        )


def has_credentials() -> bool:
    """True when boto3's default chain finds credentials (env, profile, IRSA, instance role)."""
    try:
        return boto3.session.Session().get_credentials() is not None
    except Exception:  # a broken profile file means "no usable credentials" here
        return False
