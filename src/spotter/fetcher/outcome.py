"""What one region's attempt and one whole cycle came to, for logs, metrics and tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from spotter.aws.errors import AwsError

OK = "ok"
FAILED = "failed"
SKIPPED_FRESH = "skipped_fresh"  # another fetcher stored these types within the interval
SKIPPED_LOCKED = "skipped_locked"  # another fetcher holds the region's lock
SKIPPED_NOT_ENABLED = "skipped_not_enabled"  # rechecked rarely, not in a tight loop
SKIPPED_UNKNOWN = "skipped_unknown"  # DescribeRegions does not list it: no call is made


@dataclass
class RegionOutcome:
    region: str
    state: str
    quotes: int = 0
    calls: int = 0
    pages: int = 0
    rejected: int = 0
    seconds: float = 0.0
    error: AwsError | None = None
    detail: str = ""
    fetched_at: float | None = None  # the stored snapshot's time, when state is OK


@dataclass
class CycleReport:
    number: int
    outcomes: list[RegionOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def by_region(self) -> dict[str, RegionOutcome]:
        return {o.region: o for o in self.outcomes}

    def summary(self) -> str:
        states = Counter(o.state for o in self.outcomes)
        parts = [f"{n} {state}" for state, n in sorted(states.items())]
        quotes = sum(o.quotes for o in self.outcomes)
        calls = sum(o.calls for o in self.outcomes)
        failed = [
            f"{o.region}={o.error.kind if o.error else o.detail}"
            for o in self.outcomes
            if o.state == FAILED
        ]
        text = (
            f"cycle {self.number}: {len(self.outcomes)} regions ({', '.join(parts) or 'none'}),"
            f" {quotes} quotes, {calls} AWS calls, {self.seconds:.2f}s"
        )
        return text + (f"; failed: {' '.join(failed)}" if failed else "")
