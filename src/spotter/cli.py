"""`spotter`: one command for every process (fetch, api, replay, up)."""

from __future__ import annotations

import sys

USAGE = """usage: spotter COMMAND [ARGS...]

commands:
  up       run the whole stack on this machine (Redis, replay or AWS, fetchers, API)
  fetch    fetch spot prices for some regions into Redis, every interval
  api      serve the REST API under Gunicorn
  replay   serve recorded spot prices through an EC2-compatible endpoint

`spotter COMMAND --help` describes each."""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "fetch":
        from spotter.fetcher.cli import main as run
    elif command == "api":
        from spotter.api.serve import main as run
    elif command == "replay":
        from spotter.replay.cli import main as run
    elif command == "up":
        from spotter.up import main as run
    else:
        print(f"spotter: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())
