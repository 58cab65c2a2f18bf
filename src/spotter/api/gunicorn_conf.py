"""Gunicorn settings for the API (`-c python:spotter.api.gunicorn_conf`), from the environment.

API_HOST, API_PORT, GUNICORN_WORKERS and SPOTTER_GUNICORN_THREADS as for every Spotter process;
SPOTTER_ACCESS_LOG=1 adds one line per request (with its request id) to the log. Command-line
flags override what is set here.
"""

from __future__ import annotations

import os
from typing import Any

from spotter.config import Settings
from spotter.logs import gunicorn_logconfig

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
# Gunicorn's own lines (master and workers) in Spotter's format: plain or JSON, role "api".
logconfig_dict = gunicorn_logconfig(
    _settings, "api", access=_settings.extra.get("SPOTTER_ACCESS_LOG", "") in ("1", "true")
)
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
proc_name = "spotter-api"
# No runtime control socket (Gunicorn >= 25): it lives in $HOME, which a container may not have
# writable, and parallel instances would fight over the one path.
control_socket_disable = True
# Heartbeat files on tmpfs: a slow overlay disk must not get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


def on_starting(server: Any) -> None:
    """Before the first fork: create the multiprocess directory (a volume may hide it) and
    empty it (samples of a previous run would be added to this one's); stop with a message
    naming it when that is impossible."""
    from spotter.api import multiproc

    path = multiproc.configured_dir()
    if path:
        try:
            removed = multiproc.prepare(path)
        except multiproc.MultiprocDirError as exc:
            raise RuntimeError(str(exc)) from None  # Gunicorn prints "Error: ..." and exits 1
        server.log.info("metrics directory %s ready (%d stale files removed)", path, removed)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges vanish, its counters are kept."""
    from spotter.api import multiproc

    path = multiproc.configured_dir()
    if path:
        try:
            multiproc.worker_exited(path, worker.pid)
        except OSError as exc:
            server.log.error("metrics directory %s: cannot tidy worker %s: %s", path,
                             worker.pid, exc)
