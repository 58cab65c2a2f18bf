"""`spotter api`: replace this process with Gunicorn serving the API with Spotter's conf."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from spotter.config import ConfigError, Settings

APP = "spotter.api.app:get_app()"
CONF = "python:spotter.api.gunicorn_conf"


def command(argv: Sequence[str] = ()) -> list[str]:
    """The Gunicorn command line; extra arguments (e.g. `--access-logfile -`) go last."""
    return [sys.executable, "-m", "gunicorn", APP, "-c", CONF, *argv]


def main(argv: Sequence[str] | None = None) -> int:
    """Check the settings, then exec Gunicorn (it becomes the process: signals reach it)."""
    try:
        Settings.from_env()
    except ConfigError as exc:
        print(f"spotter api: {exc}", file=sys.stderr)
        return 2
    args = command(list(sys.argv[1:] if argv is None else argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(args[0], args)
    return 0  # not reached: execv does not return


if __name__ == "__main__":
    sys.exit(main())
