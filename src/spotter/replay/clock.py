"""The replay clock: which recorded moment is "now", and how request times map onto it.

Frozen (the default) or running at `speed` times real time from an origin in the recording.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

#: EC2 keeps 90 days of history, so a request time this recent can only be relative to now.
HISTORY_HORIZON = timedelta(days=90)


def _real_now() -> datetime:
    return datetime.now(UTC)


class ReplayClock:
    """Maps real time to replayed time; records after `now()` are never served."""

    def __init__(
        self,
        *,
        origin: datetime,
        speed: float | None = None,
        real_now: Callable[[], datetime] = _real_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.origin = origin.astimezone(UTC)
        self.speed = speed
        self._real_now = real_now
        self._monotonic = monotonic
        self._started = monotonic()

    @classmethod
    def for_dataset(
        cls, start: datetime, end: datetime, clock: datetime | None, speed: float | None
    ) -> ReplayClock:
        """Frozen at `clock` (default: the end); running from `clock` (default: the start)."""
        if speed is None:
            return cls(origin=clock or end)
        return cls(origin=clock or start, speed=speed)

    def now(self) -> datetime:
        """The replayed present."""
        if self.speed is None:
            return self.origin
        elapsed = (self._monotonic() - self._started) * self.speed
        return self.origin + timedelta(seconds=elapsed)

    def map_time(self, requested: datetime, *, now: datetime | None = None) -> datetime:
        """The replayed moment a request's StartTime/EndTime stands for.

        At or after real now: the replayed now. Within EC2's 90-day horizon of real now while the
        recording is older than that: the same distance before the replayed now (so "the last
        hour" means the last replayed hour). Anything else is a recorded moment, capped at now.
        """
        now = self.now() if now is None else now
        real = self._real_now()
        if requested >= real:
            return now
        offset = real - now
        if offset > HISTORY_HORIZON and requested >= real - HISTORY_HORIZON:
            return requested - offset
        return min(requested, now)
