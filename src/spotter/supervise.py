"""Child processes for `spotter up`: started together, watched, and all stopped on exit."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If `spotter up` itself is killed (even with SIGKILL), the kernel sends its children
    # SIGTERM, so no redis-server or Gunicorn is left behind.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildExited(RuntimeError):
    """A supervised process ended while the stack was meant to be running."""


class Supervisor:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(
        self, name: str, argv: list[str], *, env: dict[str, str], log: bool = False
    ) -> subprocess.Popen[bytes]:
        """Start `argv`; its output goes to our terminal, or to a log file when `log`."""
        out = None
        if log:
            self.logs[name] = self.workdir / f"{name}.log"
            out = self.logs[name].open("wb")
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if log else None,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        self.children[name] = process
        return process

    def check(self) -> None:
        for name, process in self.children.items():
            code = process.poll()
            if code is not None:
                tail = ""
                if name in self.logs:
                    tail = "\n" + self.logs[name].read_text(errors="replace")[-1500:]
                raise ChildExited(f"{name} exited with code {code}{tail}")

    def wait_any(self) -> str:
        while True:
            for name, process in self.children.items():
                if process.poll() is not None:
                    return name
            time.sleep(0.5)

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every child (API and fetchers first, Redis last), then SIGKILL stragglers."""
        for name in reversed(list(self.children)):
            process = self.children[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.children.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                process.wait(remaining)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        self.children.clear()


def wait_for_tcp(
    host: str, port: int, *, timeout: float, supervisor: Supervisor, name: str
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise ChildExited(f"{name} did not listen on {host}:{port} within {timeout:g}s")


def wait_for_http(
    url: str, *, timeout: float, supervisor: Supervisor, name: str, accept: tuple[int, ...] = (200,)
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in accept:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in accept:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise ChildExited(f"{name} did not answer {url} within {timeout:g}s")
