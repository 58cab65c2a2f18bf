"""Gunicorn settings for the API (`-c python:spotter.api.gunicorn_conf`), from the environment.

API_HOST, API_PORT, GUNICORN_WORKERS and SPOTTER_GUNICORN_THREADS as for every Spotter process;
command-line flags (e.g. `--access-logfile -`) override what is set here.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from spotter.config import Settings

_settings = Settings.from_env()
_host = _settings.api_host

bind = f"[{_host}]:{_settings.api_port}" if ":" in _host else f"{_host}:{_settings.api_port}"
workers = _settings.gunicorn_workers
# Threads share one Redis pool per worker; requests are short reads, mostly waiting on Redis.
worker_class = "gthread"
threads = _settings.gunicorn_threads
# The app is loaded in each worker after the fork, so no Redis connection is ever inherited.
preload_app = False
# The longest line Gunicorn allows: 64 regions in ?regions= fit with room to spare.
limit_request_line = 8190
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "spotter-api"
# No runtime control socket (Gunicorn >= 25): it lives in $HOME, which a container may not have
# writable, and parallel instances would fight over the one path.
control_socket_disable = True
# Heartbeat files on tmpfs: a slow overlay disk must not get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def _multiproc_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def on_starting(server: Any) -> None:
    """Samples of a previous run would be summed into this one's: start from an empty dir."""
    path = _multiproc_dir()
    if path:
        os.makedirs(path, exist_ok=True)
        for name in glob.glob(os.path.join(path, "*.db")):
            os.remove(name)


def child_exit(server: Any, worker: Any) -> None:
    """Tell prometheus_client a worker is gone, so its live gauges stop counting."""
    if _multiproc_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
