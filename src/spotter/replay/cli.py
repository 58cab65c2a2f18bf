"""`spotter replay`: run the EC2-compatible replay endpoint until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime
from typing import Any

from spotter.model import parse_timestamp
from spotter.replay.dataset import DatasetError, load_dataset
from spotter.replay.faults import FAULT_KNOBS, NOT_ENABLED_CODES, SERVER_ERROR_CODES
from spotter.replay.options import ReplayOptions
from spotter.replay.server import ReplayServer

DEFAULT_PORT = 8773  # the port OpenStack's EC2-compatible API used; rarely taken on a laptop
_CHOICES = {"not_enabled_code": NOT_ENABLED_CODES, "server_error_code": SERVER_ERROR_CODES}
_HELP = {
    "throttle_next": "answer the next N calls RequestLimitExceeded (503)",
    "not_enabled_regions": "regions that answer as not enabled for the account",
    "not_enabled_code": "the error code of a region that is not enabled",
    "unauthorized": "answer UnauthorizedOperation (403)",
    "unauthorized_actions": "limit --unauthorized(-regions) to these actions",
    "server_errors_next": "answer the next N calls with --server-error-code",
    "server_error_code": "InternalError (500) or Unavailable (503)",
    "latency": "seconds to wait before every answer",
    "reset_next": "drop the connection of the next N calls without an answer",
    "malformed_next": "answer the next N calls 200 with broken XML",
    "timeout_next": "hold the next N calls --timeout-seconds before answering",
    "timeout_seconds": "how long a --timeout-next call is held",
}


def _names(text: str) -> frozenset[str]:
    return frozenset(item.strip() for item in text.split(",") if item.strip())


def _moment(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; fault flags are generated from the one list of fault knobs."""
    parser = argparse.ArgumentParser(
        prog="spotter replay",
        description="Serve recorded real spot prices over the EC2 API (point boto3's "
        "endpoint_url at it; the region comes from the request signature).",
    )
    parser.add_argument("--dataset", help="JSON lines, plain or gzip (default: bundled)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--clock", type=_moment, help="replayed now, ISO-8601 (default: end)")
    parser.add_argument("--speed", type=float, help="run the clock at this many times real time")
    faults = parser.add_argument_group("faults (lists are comma-separated)")
    for name, default in FAULT_KNOBS.items():
        flag = "--" + name.replace("_", "-")
        text = _HELP.get(name, "only in these regions (default: every region)")
        if isinstance(default, bool):
            faults.add_argument(flag, action="store_true", help=text)
        elif name in _CHOICES:
            faults.add_argument(flag, choices=_CHOICES[name], default=default, help=text)
        elif isinstance(default, int | float):
            metavar = "N" if isinstance(default, int) else "SECONDS"
            faults.add_argument(flag, type=type(default), metavar=metavar, help=text)
        else:
            faults.add_argument(flag, type=_names, metavar="A,B", help=text)
    return parser


def options_from_args(args: argparse.Namespace) -> ReplayOptions:
    # Flags left unset keep the knob's default.
    knobs = {name: getattr(args, name) for name in FAULT_KNOBS}
    knobs = {name: value for name, value in knobs.items() if value is not None}
    return ReplayOptions(
        host=args.host,
        port=args.port,
        page_size=args.page_size,
        clock=args.clock,
        speed=args.speed,
        **knobs,
    )


def main(argv: list[str]) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop, 2 for bad input, 1 if it cannot listen."""
    args = build_parser().parse_args(argv)
    try:
        options = options_from_args(args)
        dataset = load_dataset(args.dataset)
    except (DatasetError, ValueError) as exc:
        print(f"spotter replay: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous = _on_signals(stop)
    try:
        with ReplayServer(dataset, options) as server:
            print(f"spotter replay listening on {server.url}", flush=True)
            print(f"dataset: {dataset.summary()}", flush=True)
            clock = f"running x{options.speed}" if options.speed else "frozen"
            print(f"clock: {clock}, replayed now {server.clock.now().isoformat()}", flush=True)
            while not stop.wait(0.5):
                pass
    except OSError as exc:
        print(f"spotter replay: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        _restore(previous)
    print("spotter replay stopped", flush=True)
    return 0


def _on_signals(stop: threading.Event) -> dict[int, Any]:
    # Signal handlers can only be installed from the main thread (tests may call main elsewhere).
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
