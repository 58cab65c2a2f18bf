"""boto3 EC2 clients: one per region, standard retry mode with bounded attempts."""

from __future__ import annotations

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from spotter.config import Settings


def ec2_client(settings: Settings, region: str, *, max_attempts: int | None = None) -> BaseClient:
    """A new client for `region`. Each gets its own Session: sessions are not thread-safe and
    a client must never be shared across regions."""
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
    session = boto3.session.Session()
    return session.client("ec2", config=config, endpoint_url=settings.aws_endpoint_url)


def has_credentials() -> bool:
    """True when boto3's default chain finds credentials (env, profile, IRSA, instance role)."""
    try:
        return boto3.session.Session().get_credentials() is not None
    except Exception:  # a broken profile file means "no usable credentials" here
        return False
