#!/usr/bin/env python3
"""`make chaos`: every fault, load, crash, bad-input and security test, the long ones included,
then the reliability table of that run written into docs/reliability.md.

The tests assert; each also records a figure (what was tried, served, lost, how long recovery
took) to $SPOTTER_CHAOS_FIGURES. This script runs them, renders the figures as a Markdown table
and replaces the part of docs/reliability.md between the `chaos-run` markers with it.

    python hack/chaos.py                      # everything (about 25 minutes)
    python hack/chaos.py --soak-seconds 60    # a shorter soak, e.g. while developing
    python hack/chaos.py --no-doc             # run and print, leave the document alone
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"
START, END = "<!-- chaos-run:start -->", "<!-- chaos-run:end -->"
SUITES = ("tests/chaos", "tests/security", "tests/property")
GROUPS = {
    "aws": "AWS faults (replay endpoint)",
    "redis": "Redis faults under load",
    "crash": "Crash consistency",
    "input": "Bad input",
    "security": "Security",
    "soak": "Soak",
}


def run_tests(out: Path, soak_seconds: int, fuzz_examples: int) -> tuple[int, str, Path]:
    figures = out / "figures.jsonl"
    junit = out / "junit.xml"
    figures.unlink(missing_ok=True)
    env = {
        **os.environ,
        "SPOTTER_CHAOS_FIGURES": str(figures),
        "SPOTTER_SOAK_SECONDS": str(soak_seconds),
        "SPOTTER_FUZZ_EXAMPLES": str(fuzz_examples),
    }
    argv = [
        sys.executable, "-m", "pytest", *SUITES, "-m", "not k8s and not helm", "-q",
        "-p", "no:cacheprovider", f"--junitxml={junit}", "--durations=15",
    ]
    print("+", " ".join(argv), flush=True)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    summary = ""
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if re.search(r"\d+ (passed|failed)", line):
            summary = line.strip().strip("=").strip()
    return proc.wait(), summary, figures


def property_row(junit: Path) -> dict[str, Any] | None:
    if not junit.exists():
        return None
    cases = ET.parse(junit).getroot().iter("testcase")
    outcomes: Counter[str] = Counter()
    for case in cases:
        if ".property." not in case.get("classname", "") and "property" not in case.get(
            "classname", ""
        ):
            continue
        failed = any(child.tag in ("failure", "error") for child in case)
        outcomes["failed" if failed else "passed"] += 1
    if not outcomes:
        return None
    return {
        "name": "Bad input: hypothesis properties of the parsers (prices, timestamps, paging "
        "tokens, dataset lines, environment values)",
        "tried": f"{sum(outcomes.values())} properties, 100 generated inputs each by default",
        "served": f"{outcomes['passed']} hold, {outcomes['failed']} fail; only the parser's own "
        "error for bad input",
        "lost": "nothing",
        "recovery": "n/a",
        "extra": {"group": "input"},
    }


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(rows: list[dict[str, Any]], header: dict[str, str]) -> str:
    lines = [
        f"Run of {header['date']} on {header['machine']}, commit `{header['commit']}`: "
        f"{header['summary']} in {header['minutes']} min (`make chaos`).",
        "",
        "| Fault or attack | How often tried | What was served | What was lost | Recovery |",
        "| --- | --- | --- | --- | --- |",
    ]
    # The quick variants (also in `make test`) repeat what their long runs show with more.
    rows = [r for r in rows if "quick" not in r["name"]]
    order = list(GROUPS)
    rows = sorted(rows, key=lambda r: (order.index(r["extra"].get("group", "security"))
                                       if r["extra"].get("group") in order else 99))
    for row in rows:
        lines.append(
            f"| {cell(row['name'])} | {cell(row['tried'])} | {cell(row['served'])} | "
            f"{cell(row['lost'])} | {cell(row['recovery'])} |"
        )
    soak = [r for r in rows if r["extra"].get("group") == "soak"]
    for row in soak:
        extra = row["extra"]
        lines += ["", f"Soak figures ({extra.get('duration', '?')} of load):", ""]
        for pid, (warm, last) in extra.get("worker_rss_mib", {}).items():
            first = extra.get("first_rss_mib", {}).get(pid, "?")
            lines.append(
                f"- Gunicorn worker {pid}: RSS {first} MiB at start, {warm} MiB after warm-up, "
                f"{last} MiB at the end"
            )
        fetcher = extra.get("fetcher_rss_mib")
        if fetcher:
            lines.append(
                f"- fetcher process: RSS {fetcher[0]} / {fetcher[1]} / {fetcher[2]} MiB "
                "(start / warm / end)"
            )
        lines.append(
            f"- Redis connections (`INFO clients`): at most {extra.get('connections_max')} "
            f"(values seen {extra.get('connections_series')}), bound "
            f"{extra.get('connections_bound')} = workers x pool + fetcher pool + the test's own"
            f" + {extra.get('connections_before', 0)} open before the soak"
        )
        memory = extra.get("redis_memory_mib")
        if memory:
            lines.append(f"- Redis used memory: {memory[0]} MiB at start, {memory[1]} MiB at end")
    return "\n".join(lines)


def write_doc(table: str) -> None:
    text = DOC.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{DOC} has no {START} ... {END} markers")
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    DOC.write_text(f"{before}{START}\n{table}\n{END}{after}")


def machine() -> str:
    memory = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores{memory}, {platform.system()} {platform.machine()}, " \
        f"Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--fuzz-examples", type=int, default=200)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "chaos")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/reliability.md")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    code, summary, figures = run_tests(args.out, args.soak_seconds, args.fuzz_examples)
    rows = [json.loads(line) for line in figures.read_text().splitlines()] if figures.exists() \
        else []
    prop = property_row(args.out / "junit.xml")
    if prop:
        rows.append(prop)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "?"
    header = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "commit": commit, "summary": summary or f"pytest exit {code}",
        "minutes": f"{(time.monotonic() - started) / 60:.1f}",
    }
    table = render(rows, header)
    (args.out / "table.md").write_text(table + "\n")
    print("\n" + table)
    if code == 0 and not args.no_doc:
        write_doc(table)
        print(f"\nwrote the table into {DOC.relative_to(ROOT)}")
    elif code != 0:
        print(f"\npytest failed (exit {code}); {DOC.relative_to(ROOT)} left as it was")
    return code


if __name__ == "__main__":
    sys.exit(main())
