"""A thread-safe log of every EC2 call the endpoint saw, so tests can count AWS calls."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call: what was asked, in which region, and how it ended."""

    seq: int
    action: str
    region: str | None
    params: dict[str, Any]
    outcome: str  # "ok", an EC2 error code, or "reset" / "malformed" (transport faults)
    status: int  # HTTP status sent; 0 when the connection was dropped without an answer
    records: int = 0
    delay: float = 0.0
    at: float = field(default=0.0)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class CallLog:
    """Append-only (until cleared) list of calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[CallRecord] = []
        self._seq = 0

    def add(self, **fields: Any) -> CallRecord:
        with self._lock:
            self._seq += 1
            record = CallRecord(seq=self._seq, **fields)
            self._calls.append(record)
            return record

    def all(self) -> list[CallRecord]:
        with self._lock:
            return list(self._calls)

    def count(
        self, action: str | None = None, region: str | None = None, outcome: str | None = None
    ) -> int:
        """Calls matching every given criterion."""
        return sum(
            1
            for call in self.all()
            if (action is None or call.action == action)
            and (region is None or call.region == region)
            and (outcome is None or call.outcome == outcome)
        )

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)
