"""The fetch loop of one shard: regions in parallel, atomic snapshots to Redis."""
