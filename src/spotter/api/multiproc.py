"""The Prometheus multiprocess directory of the API's Gunicorn workers (PROMETHEUS_MULTIPROC_DIR).

The master prepares it before the first fork (created, writable, emptied) and, when a worker
dies, drops its live gauges and folds its counters and histograms into one archive file per
type, so recycled workers never make the directory (and every scrape) grow. Scrapes read under
a shared lock and folding happens under an exclusive one: a scrape never sees a dead worker's
samples twice (counters never go backwards) nor a file vanish between listing and reading.
"""

from __future__ import annotations

import fcntl
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.mmap_dict import MmapedDict

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
LOCK_NAME = ".spotter-metrics.lock"
#: Sample files whose values add up across processes, and so can be folded together.
FOLDED_TYPES = ("counter", "histogram", "summary")


class MultiprocDirError(RuntimeError):
    """The multiprocess directory cannot be used; the message names it."""


def configured_dir() -> str | None:
    """The directory from the environment, which prometheus_client itself also reads."""
    return os.environ.get(VARIABLE) or None


def ensure(path: str) -> None:
    """Create `path` (a volume mounted over a parent may hide the image's copy) and check that
    this process can write there; raise MultiprocDirError naming it otherwise."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".probe-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as exc:
        raise MultiprocDirError(
            f"{VARIABLE}={path}: cannot create or write this directory "
            f"({exc.strerror or exc}); mount a writable volume (e.g. an emptyDir) at {path}"
        ) from exc


def prepare(path: str) -> int:
    """Before the first fork: ensure the directory, then remove every sample file of a previous
    run (a restarted container reuses pids, whose old files would be added to the new ones).
    Returns how many files were removed."""
    ensure(path)
    with _locked(path, fcntl.LOCK_EX):
        stale = glob.glob(os.path.join(path, "*.db")) + glob.glob(os.path.join(path, "*.tmp"))
        for name in stale:
            os.remove(name)
    return len(stale)


@contextmanager
def _locked(path: str, mode: int) -> Iterator[None]:
    fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def exposition(path: str) -> bytes:
    """Every live and dead worker's samples, summed per series, as exposition text."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    with _locked(path, fcntl.LOCK_SH):
        return generate_latest(registry)


def worker_exited(path: str, pid: int) -> None:
    """A worker is gone: its live gauges vanish, its counters and histograms are kept (folded
    into the archive files), so totals stay as they were."""
    with _locked(path, fcntl.LOCK_EX):
        multiprocess.mark_process_dead(pid, path)
        for kind in FOLDED_TYPES:
            dead = os.path.join(path, f"{kind}_{pid}.db")
            if os.path.exists(dead):
                _fold(path, kind, dead)


def _fold(path: str, kind: str, dead: str) -> None:
    archive = os.path.join(path, f"{kind}_archive.db")
    totals: dict[str, float] = {}
    for name in (archive, dead):
        if os.path.exists(name):
            for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(name):
                totals[key] = totals.get(key, 0.0) + value
    staging = archive + ".tmp"  # not *.db: never listed by a scrape
    if os.path.exists(staging):
        os.remove(staging)
    merged = MmapedDict(staging)
    try:
        for key, value in totals.items():
            merged.write_value(key, value, 0.0)
    finally:
        merged.close()
    os.replace(staging, archive)
    os.remove(dead)
