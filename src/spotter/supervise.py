"""Child processes for `spotter up`: started together, watched, and all stopped on exit."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import threading
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


class Stopping(Exception):
    """The user asked the stack to stop (Ctrl-C or SIGTERM)."""


class Supervisor:
    """Starts children in sessions of their own, so a terminal's Ctrl-C reaches only
    `spotter up`, which then stops each child exactly once (Gunicorn's gthread workers can
    deadlock when they get a second quit signal while handling the first)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.stop_requested = threading.Event()

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
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.children[name] = process
        return process

    def check(self) -> None:
        """Raise Stopping when asked to stop, ChildExited when a child has died."""
        if self.stop_requested.is_set():
            raise Stopping
        for name, process in self.children.items():
            code = process.poll()
            if code is not None:
                tail = ""
                if name in self.logs:
                    tail = "\n" + self.logs[name].read_text(errors="replace")[-1500:]
                raise ChildExited(f"{name} exited with code {code}{tail}")

    def sleep(self, seconds: float) -> None:
        if self.stop_requested.wait(seconds):
            raise Stopping

    def wait_any(self) -> None:
        """Return never: raise Stopping on request, ChildExited when a child dies."""
        while True:
            self.check()
            self.sleep(0.5)

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM every child (API and fetchers first, Redis last), then SIGKILL stragglers."""
        for name in reversed(list(self.children)):
            process = self.children[name]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.children.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(5)
        self.children.clear()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


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
        supervisor.sleep(0.1)
    raise ChildExited(f"{name} did not listen on {host}:{port} within {timeout:g}s")


def wait_for_http(
    url: str,
    *,
    timeout: float,
    supervisor: Supervisor,
    name: str,
    accept: tuple[int, ...] = (200,),
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
        supervisor.sleep(0.2)
    raise ChildExited(f"{name} did not answer {url} within {timeout:g}s")
