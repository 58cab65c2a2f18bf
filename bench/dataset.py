"""A 34-region x 200-type replay dataset built from the shape of the bundled real records.

Every commercial region of `regions.json` gets the zones it really has (the recorded ones for the
17 recorded regions, the catalog's for the others) and, per zone and type, a Linux/UNIX price
series: as many changes as real series have (drawn from their distribution), prices drawn from the
type's recorded prices (any region, scaled by a per-region factor), times drawn from the recording.
Deterministic: the same seed gives the same file. Also: the fewest DescribeSpotPriceHistory calls
a fetch of a dataset needs.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from spotter.aws.spot import PAGE_SIZE, TYPES_PER_CALL
from spotter.model import DEFAULT_INSTANCE_TYPES, DEFAULT_PRODUCT, aws_product_forms
from spotter.replay.catalog import load_catalog
from spotter.replay.dataset import Dataset, load_dataset

SEED = 20220531


def watched_types(recorded: Dataset, count: int = 200) -> list[str]:
    """The 22 default types, then the types with the most recorded Linux series."""
    series: Counter[str] = Counter()
    for region in recorded.regions:
        for record in recorded.query(region, product_descriptions={DEFAULT_PRODUCT}):
            series[record.instance_type] += 1
    types = list(DEFAULT_INSTANCE_TYPES)
    for name, _ in series.most_common():
        if len(types) >= count:
            break
        if name not in types:
            types.append(name)
    return types


def synthesize(path: Path, *, types: int = 200, seed: int = SEED) -> dict[str, object]:
    """Write the dataset (JSON lines, gzip) to `path`; returns a summary of what it holds."""
    recorded = load_dataset()
    catalog = load_catalog()
    rng = random.Random(seed)
    names = watched_types(recorded, types)
    linux = recorded_linux(recorded)
    every_price = [p for prices in linux.values() for p in prices]
    times = sorted({r.timestamp for region in recorded.regions for r in recorded.query(region)})
    lengths = series_lengths(recorded)
    lines: list[str] = []
    zones_per_region: dict[str, int] = {}
    for info in catalog.regions:
        region = info.name
        zones = recorded.zones(region) or {z.name: z.zone_id for z in catalog.zones_of(region)}
        zones_per_region[region] = len(zones)
        factor = rng.uniform(0.85, 1.25)
        for instance_type in names:
            pool = linux.get(instance_type) or every_price
            for zone, zone_id in sorted(zones.items()):
                count = rng.choice(lengths)
                for moment in sorted(rng.sample(times, count)):
                    price = float(rng.choice(pool)) * factor * rng.uniform(0.9, 1.1)
                    lines.append(
                        json.dumps(
                            {
                                "AvailabilityZone": zone,
                                "AvailabilityZoneId": zone_id,
                                "Region": region,
                                "InstanceType": instance_type,
                                "ProductDescription": DEFAULT_PRODUCT,
                                "SpotPrice": f"{max(price, 0.0001):.6f}",
                                "Timestamp": moment.isoformat(),
                            },
                            separators=(",", ":"),
                        )
                    )
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1))
    return {
        "records": len(lines),
        "regions": len(zones_per_region),
        "types": len(names),
        "zones": sum(zones_per_region.values()),
        "instance_types": names,
    }


def recorded_linux(recorded: Dataset) -> dict[str, list[str]]:
    """Type -> every recorded Linux/UNIX price string of it, in any region."""
    prices: dict[str, list[str]] = {}
    for region in recorded.regions:
        for record in recorded.query(region, product_descriptions={DEFAULT_PRODUCT}):
            prices.setdefault(record.instance_type, []).append(record.spot_price)
    return prices


def series_lengths(recorded: Dataset) -> list[int]:
    """The number of changes of every recorded series (one entry per series)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for region in recorded.regions:
        for r in recorded.query(region):
            counts[(region, r.instance_type, r.zone, r.product_description)] += 1
    return list(counts.values())


def minimum_calls(
    dataset: Dataset,
    regions: Sequence[str],
    types: Sequence[str],
    *,
    product: str = DEFAULT_PRODUCT,
    page_size: int = PAGE_SIZE,
) -> dict[str, int]:
    """Per region: the DescribeSpotPriceHistory calls a fetch at the replay's "now" cannot do
    without: per query of up to 200 types, ceil(records it returns / page size), at least one."""
    forms = set(aws_product_forms(product))
    now = dataset.end
    calls: dict[str, int] = {}
    for region in regions:
        total = 0
        for start in range(0, len(types), TYPES_PER_CALL):
            chunk = types[start : start + TYPES_PER_CALL]
            found = dataset.query(
                region, instance_types=chunk, product_descriptions=forms, start=now, end=now
            )
            total += max(1, math.ceil(len(found) / page_size))
        calls[region] = total
    return calls


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--types", type=int, default=200)
    args = parser.parse_args()
    summary = synthesize(args.path, types=args.types)
    summary.pop("instance_types")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
