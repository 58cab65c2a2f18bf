"""How a replay server is started: address, paging, clock and the faults it injects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from spotter.replay.faults import FAULT_KNOBS


def _frozen(value: Iterable[str] | None) -> frozenset[str] | None:
    return None if value is None else frozenset(value)


@dataclass(frozen=True)
class ReplayOptions:
    """Start-up options. Each `*_regions` scope is None for every region or a set of regions."""

    host: str = "127.0.0.1"
    port: int = 0
    page_size: int = 1000
    clock: datetime | None = None
    speed: float | None = None
    throttle_next: int = 0
    throttle_regions: frozenset[str] | None = None
    not_enabled_regions: frozenset[str] = field(default_factory=frozenset)
    not_enabled_code: str = "AuthFailure"
    unauthorized: bool = False
    unauthorized_regions: frozenset[str] | None = None
    unauthorized_actions: frozenset[str] | None = None
    server_errors_next: int = 0
    server_errors_regions: frozenset[str] | None = None
    server_error_code: str = "InternalError"
    latency: float = 0.0
    latency_regions: frozenset[str] | None = None
    reset_next: int = 0
    reset_regions: frozenset[str] | None = None
    malformed_next: int = 0
    malformed_regions: frozenset[str] | None = None
    timeout_next: int = 0
    timeout_regions: frozenset[str] | None = None
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        # Accept any iterable of regions (a set, a list) and store it immutably.
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.name.endswith(("_regions", "_actions")) and not isinstance(value, frozenset):
                object.__setattr__(self, spec.name, _frozen(value))
        if self.not_enabled_regions is None:
            object.__setattr__(self, "not_enabled_regions", frozenset())
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {self.page_size}")
        if self.speed is not None and self.speed <= 0:
            raise ValueError(f"speed must be positive, not {self.speed}")

    def fault_knobs(self) -> dict[str, Any]:
        """The fault options only, as `Faults` takes them."""
        return {k: v for k, v in asdict(self).items() if k in FAULT_KNOBS}
