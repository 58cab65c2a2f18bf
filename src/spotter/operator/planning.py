"""Shard planning: which regions each fetcher Deployment watches. Pure and deterministic.

Shards are numbered 0..k-1 with k = ceil(regions / regionsPerShard); sizes differ by at most
one. Given the previous plan, a region stays in its shard whenever balance allows, so adding
one region moves no other region unless a shard has to be added (then each old shard gives
up only what the new one needs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Shard:
    """One fetcher's share of a SpotWatch: a stable index and its regions, sorted."""

    index: int
    regions: tuple[str, ...]


def shard_count(regions: int, regions_per_shard: int) -> int:
    """How many shards `regions` regions need at `regions_per_shard` each."""
    if regions_per_shard < 1:
        raise ValueError(f"regions_per_shard must be at least 1, got {regions_per_shard}")
    return -(-regions // regions_per_shard)


def plan_shards(
    regions: Iterable[str],
    regions_per_shard: int,
    previous: Sequence[Shard] | None = None,
) -> list[Shard]:
    """Split `regions` into balanced shards, keeping regions where `previous` had them."""
    wanted = sorted(set(regions))
    count = shard_count(len(wanted), regions_per_shard)
    if count == 0:
        return []
    wanted_set = set(wanted)
    kept: dict[int, list[str]] = {index: [] for index in range(count)}
    placed: set[str] = set()
    for shard in sorted(previous or (), key=lambda s: s.index):
        if shard.index in kept:
            for region in sorted(shard.regions):
                if region in wanted_set and region not in placed:
                    kept[shard.index].append(region)
                    placed.add(region)

    base, extra = divmod(len(wanted), count)
    # The shards that already hold the most regions get the larger size: fewer moves.
    by_fullness = sorted(kept, key=lambda index: (-len(kept[index]), index))
    size = {index: base + (1 if rank < extra else 0) for rank, index in enumerate(by_fullness)}

    loose = [region for region in wanted if region not in placed]
    for index in range(count):
        surplus = kept[index][size[index]:]
        kept[index] = kept[index][: size[index]]
        loose.extend(surplus)
    loose.sort()
    for index in range(count):
        room = size[index] - len(kept[index])
        kept[index].extend(loose[:room])
        del loose[:room]
    return [Shard(index, tuple(sorted(kept[index]))) for index in range(count)]


def moved_regions(before: Sequence[Shard], after: Sequence[Shard]) -> set[str]:
    """Regions present in both plans whose shard index changed."""
    old = {region: shard.index for shard in before for region in shard.regions}
    new = {region: shard.index for shard in after for region in shard.regions}
    return {region for region in old.keys() & new.keys() if old[region] != new[region]}
