"""Replay endpoint fixtures: real ReplayServers on free loopback ports, and boto3 clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from spotter.replay.dataset import load_dataset
from spotter.replay.server import ReplayOptions, ReplayServer

ServerFactory = Callable[..., ReplayServer]


def ec2_client(
    server: ReplayServer | str,
    region: str = "us-east-1",
    *,
    attempts: int = 1,
    read_timeout: float = 10.0,
) -> Any:
    """A real boto3 EC2 client for the endpoint; one attempt by default, so errors show raw.

    botocore's `max_attempts` counts retries, `total_max_attempts` counts every attempt.
    """
    url = server if isinstance(server, str) else server.url
    config = Config(
        retries={"total_max_attempts": attempts, "mode": "standard"},
        connect_timeout=2,
        read_timeout=read_timeout,
    )
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@pytest.fixture
def replay_client() -> Callable[..., Any]:
    """`ec2_client` as a fixture: `replay_client(server, "eu-west-1", attempts=3)`."""
    return ec2_client


@pytest.fixture
def replay_server() -> Iterator[ReplayServer]:
    """The bundled recorded dataset, default options, fresh faults and call log."""
    with ReplayServer(load_dataset(), ReplayOptions()) as server:
        yield server


@pytest.fixture
def replay_server_factory() -> Iterator[ServerFactory]:
    """`make(dataset_path=None, **options)` starts a server; all are stopped after the test."""
    started: list[ReplayServer] = []

    def make(dataset_path: str | Path | None = None, **options: Any) -> ReplayServer:
        server = ReplayServer(load_dataset(dataset_path), ReplayOptions(**options)).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
