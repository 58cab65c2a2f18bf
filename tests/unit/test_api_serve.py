"""`spotter api` and the Gunicorn conf read the environment they are given."""

from __future__ import annotations

import subprocess
import sys

from spotter.api import serve


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_command_runs_gunicorn_with_the_app_and_conf_and_extra_flags_last() -> None:
    assert serve.command(["--access-logfile", "-"]) == [
        sys.executable, "-m", "gunicorn", "spotter.api.app:get_app()",
        "-c", "python:spotter.api.gunicorn_conf", "--access-logfile", "-"]


def test_gunicorn_conf_takes_bind_workers_and_threads_from_the_environment() -> None:
    code = ("import spotter.api.gunicorn_conf as c; "
            "print(c.bind, c.workers, c.worker_class, c.threads, c.accesslog, c.preload_app)")
    env = {"API_HOST": "127.0.0.1", "API_PORT": "8080", "GUNICORN_WORKERS": "3",
           "SPOTTER_GUNICORN_THREADS": "6"}
    assert run(code, env).stdout.split() == ["127.0.0.1:8080", "3", "gthread", "6", "None", "False"]
    assert run(code, {"API_HOST": "::"}).stdout.split()[0] == "[::]:5001"


def test_bad_settings_stop_spotter_api_with_a_message_before_gunicorn_starts() -> None:
    result = run("import sys; from spotter.api.serve import main; sys.exit(main([]))",
                 {"API_PORT": "eighty"})
    assert result.returncode == 2
    assert "API_PORT" in result.stderr and "Traceback" not in result.stderr
