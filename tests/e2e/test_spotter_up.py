"""`spotter up` end to end: real redis-server, replay endpoint, fetcher and Gunicorn, checked
against expectations computed here from the dataset's own records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from support.datasets import bundled_dataset_path, latest_prices
from support.redisserver import free_port

TYPES = ("m5.large", "c5.large", "g4dn.xlarge", "r5.large", "t3.micro")


def expected_prices(path: Path) -> dict[str, dict[tuple[str, str], Decimal]]:
    """Latest Linux/UNIX price per (region, zone id) for each type, straight from the records."""
    out: dict[str, dict[tuple[str, str], Decimal]] = {}
    for (itype, region, zone_id), price in latest_prices(path, set(TYPES)).items():
        out.setdefault(itype, {})[(region, zone_id)] = price
    return out


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "REDIS_", "SPOTTER_", "INSTANCE_TYPES"))
    }
    env.update(
        API_PORT=str(port),
        GUNICORN_WORKERS="2",
        UPDATE_INTERVAL="60",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_EC2_METADATA_DISABLED="true",
    )
    log = tmp_path_factory.mktemp("up") / "up.log"
    out = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "spotter.cli", "up", "--replay", "--host", "127.0.0.1"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"spotter up exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            if "ready." in log.read_text(errors="replace"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"spotter up not ready in 90s:\n{log.read_text()[-3000:]}")
        yield base, proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_best_price_matches_the_records_for_several_types(stack) -> None:
    base, _ = stack
    expected = expected_prices(bundled_dataset_path())
    for itype in TYPES:
        if itype not in expected:
            continue
        body = requests.get(f"{base}/best-price/{itype}", timeout=10).json()
        cheapest = min(expected[itype].values())
        assert Decimal(str(body["price"])) == cheapest, (itype, body)
        assert (body["region"], body["zone_id"]) in {
            k for k, v in expected[itype].items() if v == cheapest
        }
        assert body["source"] == "replay"


def test_every_recorded_type_is_answered_with_its_cheapest_recorded_price(stack) -> None:
    base, _ = stack
    cheapest: dict[str, Decimal] = {}
    for (itype, _, _), price in latest_prices(bundled_dataset_path()).items():
        cheapest[itype] = min(price, cheapest.get(itype, price))
    assert len(cheapest) > 450  # the whole recorded file: every type with a Linux/UNIX record
    session = requests.Session()
    wrong = {}
    for itype, price in sorted(cheapest.items()):
        body = session.get(f"{base}/best-price/{itype}", timeout=10).json()
        if Decimal(str(body.get("price"))) != price:
            wrong[itype] = (body, price)
    assert wrong == {}


def test_spot_prices_lists_every_recorded_zone_of_a_region(stack) -> None:
    base, _ = stack
    expected = expected_prices(bundled_dataset_path())["m5.large"]
    for region in sorted({r for r, _ in expected})[:4]:
        body = requests.get(f"{base}/spot-prices/{region}/m5.large", timeout=10).json()
        got = {(region, z["zone_id"]): Decimal(str(z["price"])) for z in body["zones"]}
        assert got == {k: v for k, v in expected.items() if k[0] == region}
        assert set(body["prices"]) == {z["zone"] for z in body["zones"]}


def test_ctrl_c_stops_everything_and_leaves_no_process(stack) -> None:
    _, proc = stack
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
    pids = [int(p) for p in children.stdout.split()]
    assert len(pids) >= 4  # redis, replay, fetcher, gunicorn
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    time.sleep(0.5)
    alive = [
        pid
        for pid in pids
        if Path(f"/proc/{pid}").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    ]
    assert alive == []
