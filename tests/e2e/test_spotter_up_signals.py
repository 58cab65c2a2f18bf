"""`spotter up` stops cleanly however it is asked to: a terminal's Ctrl-C (SIGINT to the whole
process group), SIGTERM, or a background start where the shell left SIGINT ignored."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.redisserver import free_port

RECORDS = [
    {
        "Region": "us-east-1",
        "AvailabilityZoneId": "use1-az1",
        "InstanceType": "m5.large",
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": "0.040000",
        "Timestamp": "2024-01-01T00:00:00+00:00",
    },
    {
        "Region": "eu-west-1",
        "AvailabilityZoneId": "euw1-az1",
        "InstanceType": "m5.large",
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": "0.030000",
        "Timestamp": "2024-01-01T00:00:00+00:00",
    },
]


def start_up(tmp_path: Path, *, ignore_sigint: bool = False) -> tuple[subprocess.Popen, Path]:
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    log = tmp_path / "up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_"))}
    env.update(API_PORT=str(free_port()), GUNICORN_WORKERS="2")

    def before() -> None:
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "spotter.cli", "up", "--dataset", str(dataset)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=before,
    )
    deadline = time.monotonic() + 90
    while "ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"spotter up did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return proc, log


def descendants(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid=,sid="], capture_output=True, text=True
    ).stdout.split("\n")
    rows = [tuple(int(x) for x in line.split()) for line in out if line.strip()]
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid, _ in rows:
            if ppid == parent:
                found.append(child)
                frontier.append(child)
    return found


def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status")
        try:
            if "zombie" not in status.read_text().lower():
                living.append(pid)
        except FileNotFoundError:
            pass
    return living


@pytest.mark.parametrize("how", ["group-sigint", "sigterm", "sigint-when-shell-ignored-it"])
def test_stopping_leaves_no_process_and_no_temp_dir(tmp_path: Path, how: str) -> None:
    import tempfile

    workdirs = set(Path(tempfile.gettempdir()).glob("spotter-up-*"))
    proc, log = start_up(tmp_path, ignore_sigint=how == "sigint-when-shell-ignored-it")
    assert set(Path(tempfile.gettempdir()).glob("spotter-up-*")) - workdirs
    children = descendants(proc.pid)
    assert len(children) >= 5  # redis, replay, fetcher, gunicorn master and workers
    if how == "group-sigint":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    elif how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(40) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(children) == [], log.read_text()[-3000:]
    text = log.read_text()
    assert "spotter up: stopped" in text and "Traceback" not in text
    workdirs = [line for line in text.splitlines() if "spotter-up-" in line]
    for line in workdirs:
        path = line[line.index("/") :].split()[0]
        assert not Path(path).exists()


def test_a_bad_dataset_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(RECORDS[0]) + "\n{not json\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spotter.cli",
            "up",
            "--dataset",
            str(bad),
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{bad}: line 2" in result.stderr


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "spotter.cli", "up", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in result.stderr
