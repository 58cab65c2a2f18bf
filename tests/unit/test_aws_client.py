"""boto3 clients: one per region, made from one session (models parsed once)."""

from __future__ import annotations

import botocore.utils
import pytest

from spotter.aws.client import ec2_client, parse_timestamp
from spotter.config import Settings

SETTINGS = Settings.from_env({"SPOTTER_AWS_ENDPOINT_URL": "http://127.0.0.1:9"})


def test_clients_of_different_regions_share_one_parsed_service_model() -> None:
    # Parsing EC2's model once per client made a fetcher's first cycle CPU-bound (~170 ms each).
    east, west = ec2_client(SETTINGS, "us-east-1"), ec2_client(SETTINGS, "eu-west-1")
    assert east is not west
    assert east.meta.region_name == "us-east-1" and west.meta.region_name == "eu-west-1"
    assert east.meta.service_model.metadata is west.meta.service_model.metadata
    assert east.meta.events is not west.meta.events  # hooks (metrics) stay per client


def test_each_client_keeps_its_own_retry_settings_and_endpoint() -> None:
    client = ec2_client(SETTINGS, "ap-south-1", max_attempts=2)
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 2}
    assert client.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "text",
    [
        "2022-05-31T23:59:47.000Z", "2022-05-31T23:59:47Z", "2024-02-29T00:00:00.123456Z",
        "2022-05-31T23:59:47+02:00", "Tue, 31 May 2022 23:59:47 GMT", "1654041587",
    ],
)
def test_response_timestamps_are_the_same_instants_botocore_would_parse(text: str) -> None:
    ours = parse_timestamp(text)
    assert ours == botocore.utils.parse_timestamp(text)
    assert ours.utcoffset() is not None
