"""Key names. Hash tags are not used: Spotter targets one Redis (or a replicated primary)."""

from __future__ import annotations

from dataclasses import dataclass

from spotter.model import product_slug


@dataclass(frozen=True, slots=True)
class Keys:
    """Builds every key under one prefix, so two installations can share a Redis."""

    prefix: str = "spotter"

    def quotes(self, product: str, instance_type: str) -> str:
        """HASH region -> encoded RegionPrices: one read answers a type in every region."""
        return f"{self.prefix}:q:{product_slug(product)}:{instance_type}"

    def freshness(self, product: str, region: str) -> str:
        """HASH instance type -> fetched_at of the newest stored fetch of that type."""
        return f"{self.prefix}:fresh:{product_slug(product)}:{region}"

    def snapshot(self, product: str, region: str) -> str:
        """HASH describing the newest snapshot of (product, region): fetched_at, source, counts."""
        return f"{self.prefix}:snap:{product_slug(product)}:{region}"

    def history(self, product: str, region: str, instance_type: str) -> str:
        """ZSET of price changes, score = change time, member = zone|zone_id|price|epoch."""
        return f"{self.prefix}:h:{product_slug(product)}:{region}:{instance_type}"

    def region_status(self, region: str) -> str:
        return f"{self.prefix}:region:{region}"

    def watched(self) -> str:
        """SET of regions some fetcher is responsible for."""
        return f"{self.prefix}:watched"

    def catalog(self) -> str:
        """HASH region -> opt-in status, as DescribeRegions last said."""
        return f"{self.prefix}:catalog"

    def lock(self, region: str) -> str:
        return f"{self.prefix}:lock:{region}"

    def cached_read_prefixes(self) -> tuple[str, ...]:
        """Every key the cached reads come from starts with one of these (none overlaps another,
        as CLIENT TRACKING requires): quotes, freshness, region status, watch set, catalog."""
        return (
            f"{self.prefix}:q:",
            f"{self.prefix}:fresh:",
            f"{self.prefix}:region:",
            self.watched(),
            self.catalog(),
        )
