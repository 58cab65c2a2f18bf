"""Each injected fault as real boto3 sees it, region scopes, the call log and the admin surface."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.parsers import ResponseParserError

from spotter.replay.server import ReplayServer

Client = Callable[..., Any]
ServerFactory = Callable[..., ReplayServer]


def _code(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _admin(server: ReplayServer, path: str, body: dict | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}/__replay__/{path}", data=data)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("options", "code", "status"),
    [
        ({"throttle_next": 1}, "RequestLimitExceeded", 503),
        ({"not_enabled_regions": {"us-east-1"}}, "AuthFailure", 401),
        (
            {"not_enabled_regions": {"us-east-1"}, "not_enabled_code": "OptInRequired"},
            "OptInRequired",
            401,
        ),
        ({"unauthorized": True}, "UnauthorizedOperation", 403),
        ({"server_errors_next": 1}, "InternalError", 500),
        ({"server_errors_next": 1, "server_error_code": "Unavailable"}, "Unavailable", 503),
    ],
)
def test_each_error_fault_reaches_boto3_with_its_code_and_status(
    replay_client: Client,
    replay_server_factory: ServerFactory,
    options: dict,
    code: str,
    status: int,
) -> None:
    server = replay_server_factory(**options)
    client = replay_client(server)
    assert _code(client.describe_spot_price_history) == (code, status)
    assert server.calls.count("DescribeSpotPriceHistory", "us-east-1", code) == 1


def test_throttling_n_calls_then_success(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    replay_server.faults.configure(throttle_next=2)
    client = replay_client(replay_server)
    assert _code(client.describe_regions)[0] == "RequestLimitExceeded"
    assert _code(client.describe_regions)[0] == "RequestLimitExceeded"
    assert client.describe_regions()["Regions"]
    assert [c.outcome for c in replay_server.calls.all()] == [
        "RequestLimitExceeded",
        "RequestLimitExceeded",
        "ok",
    ]


def test_standard_retries_absorb_a_short_throttle(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    replay_server.faults.configure(throttle_next=1)
    replay_client(replay_server, attempts=3).describe_regions()
    assert [c.outcome for c in replay_server.calls.all()] == ["RequestLimitExceeded", "ok"]


def test_faults_scoped_to_regions_leave_others_alone(
    replay_client: Client, replay_server_factory: ServerFactory
) -> None:
    server = replay_server_factory(
        throttle_next=1,
        throttle_regions={"eu-west-1"},
        unauthorized_regions={"us-west-2"},
        unauthorized_actions={"DescribeSpotPriceHistory"},
    )
    assert replay_client(server, "us-east-1").describe_spot_price_history(MaxResults=5)
    assert replay_client(server, "us-west-2").describe_regions()
    assert _code(replay_client(server, "us-west-2").describe_spot_price_history) == (
        "UnauthorizedOperation",
        403,
    )
    assert _code(replay_client(server, "eu-west-1").describe_regions)[0] == "RequestLimitExceeded"
    assert replay_client(server, "eu-west-1").describe_regions()


def test_latency_is_applied_in_its_regions_only(
    replay_client: Client, replay_server_factory: ServerFactory
) -> None:
    server = replay_server_factory(latency=0.3, latency_regions={"ap-south-1"})
    slow, fast = replay_client(server, "ap-south-1"), replay_client(server, "us-east-1")
    fast.describe_regions()  # warm up the client and its connection
    began = time.monotonic()
    slow.describe_regions()
    slow_seconds = time.monotonic() - began
    began = time.monotonic()
    fast.describe_regions()
    assert slow_seconds >= 0.3 and time.monotonic() - began < 0.25
    assert server.calls.all()[-2].delay == pytest.approx(0.3)


def test_a_reset_connection_is_closed_without_an_answer(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    replay_server.faults.configure(reset_next=1)
    client = replay_client(replay_server)
    with pytest.raises(ConnectionClosedError):
        client.describe_spot_price_history()
    assert client.describe_regions()["Regions"]
    assert replay_server.calls.all()[0].outcome == "reset"
    assert replay_server.calls.all()[0].status == 0


def test_a_malformed_answer_fails_parsing(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    replay_server.faults.configure(malformed_next=1)
    client = replay_client(replay_server)
    with pytest.raises(ResponseParserError):
        client.describe_spot_price_history()
    assert client.describe_spot_price_history(MaxResults=5)["SpotPriceHistory"]


def test_a_held_call_outlasts_the_clients_read_timeout(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    replay_server.faults.configure(timeout_next=1, timeout_seconds=1.0)
    client = replay_client(replay_server, read_timeout=0.3)
    began = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        client.describe_regions()
    assert time.monotonic() - began < 0.9
    assert client.describe_regions()["Regions"]


def test_the_call_log_records_action_region_params_and_outcome(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    replay_client(replay_server, "eu-north-1").describe_spot_price_history(
        InstanceTypes=["t3.medium", "t4g.xlarge"],
        Filters=[{"Name": "availability-zone", "Values": ["eu-north-1a"]}],
        MaxResults=10,
    )
    (call,) = replay_server.calls.all()
    assert (call.action, call.region, call.outcome, call.status) == (
        "DescribeSpotPriceHistory",
        "eu-north-1",
        "ok",
        200,
    )
    assert call.params["InstanceType"] == ["t3.medium", "t4g.xlarge"]
    assert call.params["Filter"] == [{"Name": "availability-zone", "Value": ["eu-north-1a"]}]
    assert call.params["MaxResults"] == "10" and 0 < call.records <= 10


def test_the_admin_surface_sets_faults_lists_calls_and_resets(
    replay_client: Client, replay_server_factory: ServerFactory
) -> None:
    server = replay_server_factory(latency=0.0, not_enabled_regions={"sa-east-1"})
    status, faults = _admin(
        server, "faults", {"throttle_next": 1, "throttle_regions": ["us-east-1"]}
    )
    assert status == 200 and faults["throttle_next"] == 1
    assert faults["throttle_regions"] == ["us-east-1"]
    assert _code(replay_client(server).describe_regions)[0] == "RequestLimitExceeded"
    status, calls = _admin(server, "calls")
    assert status == 200
    assert [(c["action"], c["region"], c["outcome"]) for c in calls["calls"]] == [
        ("DescribeRegions", "us-east-1", "RequestLimitExceeded")
    ]
    _admin(server, "faults", {"throttle_next": 5})
    assert _admin(server, "reset", {}) == (200, {"ok": True})
    assert _admin(server, "calls")[1] == {"calls": []}
    faults = _admin(server, "faults")[1]
    assert faults["throttle_next"] == 0 and faults["not_enabled_regions"] == ["sa-east-1"]
    assert _admin(server, "health")[1]["dataset"]["records"] == server.dataset.records


@pytest.mark.parametrize(
    "body", [{"throttle_next": -1}, {"no_such_fault": 1}, {"not_enabled_code": "Nope"}]
)
def test_the_admin_surface_rejects_bad_fault_options(
    replay_server: ReplayServer, body: dict
) -> None:
    status, answer = _admin(replay_server, "faults", body)
    assert status == 400 and answer["error"]
    assert _admin(replay_server, "faults")[1]["throttle_next"] == 0
    assert _admin(replay_server, "nowhere")[0] == 404


def test_a_stopped_server_drops_kept_alive_connections(
    replay_client: Client, replay_server_factory: ServerFactory
) -> None:
    server = replay_server_factory()
    client = replay_client(server)
    client.describe_regions()
    server.stop()
    with pytest.raises(Exception) as caught:
        client.describe_regions()
    assert not isinstance(caught.value, ClientError)


def _post(server: ReplayServer, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(server.url + "/", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_unsigned_calls_and_unknown_actions_get_ec2_errors(replay_server: ReplayServer) -> None:
    form = b"Action=DescribeRegions&Version=2016-11-15"
    status, body = _post(replay_server, form, {})
    assert status == 403 and "<Code>MissingAuthenticationToken</Code>" in body
    signed = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ec2/aws4_request"
    }
    status, body = _post(replay_server, b"Action=RunInstances&Version=2016-11-15", signed)
    assert status == 400 and "<Code>InvalidAction</Code>" in body
    assert [c.outcome for c in replay_server.calls.all()] == [
        "MissingAuthenticationToken",
        "InvalidAction",
    ]


def test_concurrent_callers_consume_each_throttle_exactly_once(
    replay_client: Client, replay_server: ReplayServer
) -> None:
    replay_server.faults.configure(throttle_next=10)
    regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-south-1"] * 2

    def calls(region: str) -> list[str]:
        client = replay_client(replay_server, region)
        outcomes = []
        for _ in range(5):
            try:
                client.describe_availability_zones()
                outcomes.append("ok")
            except ClientError as error:
                outcomes.append(error.response["Error"]["Code"])
        return outcomes

    with ThreadPoolExecutor(len(regions)) as pool:
        outcomes = [o for result in pool.map(calls, regions) for o in result]
    assert outcomes.count("RequestLimitExceeded") == 10 and outcomes.count("ok") == 30
    assert len(replay_server.calls) == 40
    assert replay_server.calls.count(outcome="RequestLimitExceeded") == 10
