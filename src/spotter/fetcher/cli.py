"""`spotter fetch`: run the fetch loop for a set of regions until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from spotter.config import (
    ConfigError,
    Settings,
    parse_duration,
    parse_instance_types,
    parse_products,
    parse_regions,
)
from spotter.fetcher.loop import Fetcher
from spotter.fetcher.metrics import FetcherMetrics
from spotter.logs import configure_logging
from spotter.store import Store

log = logging.getLogger("spotter.fetcher")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spotter fetch",
        description="Fetch EC2 spot prices for some regions into Redis, every interval.",
    )
    parser.add_argument(
        "--regions",
        help="comma-separated regions, or 'all' (default: "
        "SPOTTER_REGIONS, else every region enabled for the account)",
    )
    parser.add_argument("--instance-types", help="comma-separated types (default: INSTANCE_TYPES)")
    parser.add_argument(
        "--products", help="comma-separated products (default: SPOTTER_PRODUCTS, else Linux/UNIX)"
    )
    parser.add_argument(
        "--interval", help="refresh period: 300, 30s, 5m (default: UPDATE_INTERVAL)"
    )
    parser.add_argument("--once", action="store_true", help="run one cycle and exit")
    return parser


def settings_from_args(args: argparse.Namespace, base: Settings) -> Settings:
    changes: dict[str, object] = {}
    if args.regions:
        changes["regions"] = parse_regions(args.regions, name="--regions")
    if args.instance_types:
        changes["instance_types"] = parse_instance_types(
            args.instance_types, name="--instance-types"
        )
    if args.products:
        changes["products"] = parse_products(args.products, name="--products")
    if args.interval:
        interval = parse_duration(args.interval, name="--interval")
        if not 1 <= interval <= 86400:
            raise ConfigError(f"--interval: {args.interval!r} is out of range (1s..24h)")
        changes["update_interval"] = interval
    return base.with_overrides(**changes)


def shard_name(settings: Settings) -> str:
    """What names this fetcher on every log line: SPOTTER_SHARD if set, else its regions."""
    return settings.extra.get("SPOTTER_SHARD") or ",".join(settings.regions) or "all"


def main(argv: list[str], env: dict[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args, Settings.from_env(env))
    except ConfigError as exc:
        print(f"spotter fetch: configuration error: {exc}", flush=True)
        return 2
    configure_logging(settings, "fetcher", shard=shard_name(settings))
    metrics = None
    if settings.fetcher_metrics_port:
        metrics = FetcherMetrics()
        try:
            metrics.serve(settings.fetcher_metrics_port)
        except OSError as exc:
            log.error("cannot serve metrics on port %d: %s", settings.fetcher_metrics_port, exc)
            return 2
        log.info("metrics on :%d/metrics", settings.fetcher_metrics_port)
    store = Store.from_settings(settings)
    fetcher = Fetcher(settings, store, regions=settings.regions, metrics=metrics)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        # Only set the event here: logging from a signal handler can re-enter a stream
        # write that the interrupted code was in the middle of.
        received.append(signal.Signals(signum).name)
        stop.set()

    received: list[str] = []

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "fetching %s for %d types (%s) %s into %s (source %s)",
        ",".join(settings.regions) or "all enabled regions",
        len(settings.instance_types),
        ",".join(settings.products),
        "once" if args.once else f"every {settings.update_interval:g}s",
        settings.redacted_redis_url,
        settings.source,
    )
    report = fetcher.run_forever(stop, once=args.once)
    if received:
        log.info("received %s; stopped after the current cycle", received[0])
    store.close()
    if args.once and report is not None:
        return 0 if all(o.state != "failed" for o in report.outcomes) else 1
    return 0
