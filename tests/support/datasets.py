"""Expectations computed straight from dataset files, independently of the replay endpoint."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from importlib import resources
from pathlib import Path


def bundled_dataset_path() -> Path:
    data = resources.files("spotter.replay").joinpath("data")
    return next(Path(str(p)) for p in data.iterdir() if p.name.endswith(".jsonl.gz"))


def latest_prices(
    path: Path, types: set[str] | None = None, product: str = "Linux/UNIX"
) -> dict[tuple[str, str, str], Decimal]:
    """(type, region, zone id) -> the newest recorded price of `product` (either form)."""
    newest: dict[tuple[str, str, str], tuple[str, Decimal]] = {}
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as lines:
        for line in lines:
            if not line.strip():
                continue
            rec = json.loads(line)
            if types is not None and rec["InstanceType"] not in types:
                continue
            if rec["ProductDescription"].removesuffix(" (Amazon VPC)") != product:
                continue
            key = (rec["InstanceType"], rec["Region"], rec["AvailabilityZoneId"])
            if key not in newest or rec["Timestamp"] > newest[key][0]:
                newest[key] = (rec["Timestamp"], Decimal(rec["SpotPrice"]))
    return {key: price for key, (_, price) in newest.items()}
