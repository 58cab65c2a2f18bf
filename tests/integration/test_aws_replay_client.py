"""Spotter's boto3 clients against the replay endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spotter.aws.client import ec2_client
from spotter.config import Settings
from spotter.replay.server import ReplayServer


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 signs every request; the replay endpoint reads the region from the signature.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_spot_price_timestamps_come_from_the_standard_library_parser(
    replay_server: ReplayServer,
) -> None:
    settings = Settings.from_env({"SPOTTER_AWS_ENDPOINT_URL": replay_server.url})
    client = ec2_client(settings, "us-east-1")
    answer = client.describe_spot_price_history(
        InstanceTypes=["r5.xlarge"], StartTime=datetime.now(UTC), MaxResults=10
    )
    records = answer["SpotPriceHistory"]
    assert records
    # botocore's own parser (dateutil) would give tzutc()/tzlocal(), not datetime.UTC.
    assert all(record["Timestamp"].tzinfo is UTC for record in records)
