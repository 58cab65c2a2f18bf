"""`spotter replay` as a process: it says where it listens, serves boto3, and stops on signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import spotter.replay

Client = Callable[..., Any]
SRC = Path(spotter.replay.__file__).resolve().parents[2]
RUN = "import sys; from spotter.replay.cli import main; sys.exit(main(sys.argv[1:]))"


def _start(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen(
        [sys.executable, "-c", RUN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    line = {
        "Region": "eu-west-1",
        "AvailabilityZone": "eu-west-1b",
        "InstanceType": "t3.micro",
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": "0.003800",
        "Timestamp": "2024-12-24T02:40:00Z",
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(line) + "\n")
    return path


@pytest.fixture
def process(dataset: Path) -> Iterator[subprocess.Popen[str]]:
    proc = _start("--dataset", str(dataset), "--port", "0", "--throttle-next", "1")
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(5)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_it_serves_until_a_signal_then_stops_cleanly(
    replay_client: Client, process: subprocess.Popen[str], signum: int
) -> None:
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("spotter replay listening on http://127.0.0.1:")
    assert "1 records, 1 regions" in process.stdout.readline()
    client = replay_client(first.split()[-1], "eu-west-1", attempts=2)
    prices = client.describe_spot_price_history(InstanceTypes=["t3.micro"])["SpotPriceHistory"]
    assert [(p["AvailabilityZone"], p["SpotPrice"]) for p in prices] == [("eu-west-1b", "0.003800")]
    process.send_signal(signum)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "spotter replay stopped" in out


def test_a_bad_dataset_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('\n{"Region": "eu-west-1"}\n')
    proc = _start("--dataset", str(bad), "--port", "0")
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    assert f"{bad}: line 2:" in err


def test_a_taken_port_exits_1(dataset: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _start("--dataset", str(dataset), "--port", str(port))
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1 and "cannot listen" in err
