"""Injected faults: throttling, disabled regions, missing permissions, errors and chaos.

Counters (`*_next`) are consumed one per matching call; every fault may be scoped to regions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Every knob with its default: the single list the options, the CLI and the admin API share.
FAULT_KNOBS: dict[str, Any] = {
    "throttle_next": 0,
    "throttle_regions": None,
    "not_enabled_regions": frozenset(),
    "not_enabled_code": "AuthFailure",
    "unauthorized": False,
    "unauthorized_regions": None,
    "unauthorized_actions": None,
    "server_errors_next": 0,
    "server_errors_regions": None,
    "server_error_code": "InternalError",
    "latency": 0.0,
    "latency_regions": None,
    "reset_next": 0,
    "reset_regions": None,
    "malformed_next": 0,
    "malformed_regions": None,
    "timeout_next": 0,
    "timeout_regions": None,
    "timeout_seconds": 10.0,
}
NOT_ENABLED_CODES = ("AuthFailure", "OptInRequired")
SERVER_ERROR_CODES = ("InternalError", "Unavailable")
_CODES = {"not_enabled_code": NOT_ENABLED_CODES, "server_error_code": SERVER_ERROR_CODES}
# Transport chaos, tried in this order; at most one is consumed per call.
_TRANSPORT = (("reset_next", "reset"), ("timeout_next", "timeout"), ("malformed_next", "malformed"))


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do to one call: wait `delay`, then break the transport or answer an error."""

    delay: float = 0.0
    transport: str | None = None  # "reset", "malformed", or "timeout" (answered after the wait)
    error: str | None = None  # an EC2 error code to answer with


def validate_knobs(knobs: Mapping[str, Any]) -> dict[str, Any]:
    """Checked and normalised knobs; ValueError names the first bad one."""
    clean: dict[str, Any] = {}
    for name, value in knobs.items():
        if name not in FAULT_KNOBS:
            raise ValueError(f"unknown fault option {name!r}")
        clean[name] = _validate(name, value)
    return clean


def _validate(name: str, value: Any) -> Any:
    if name.endswith(("_regions", "_actions")):
        if value is None:
            return frozenset() if name == "not_enabled_regions" else None
        if isinstance(value, str) or not isinstance(value, Iterable):
            raise ValueError(f"{name} must be a list of names or null")
        items = frozenset(value)
        if not all(isinstance(item, str) and item for item in items):
            raise ValueError(f"{name} must be a list of names or null")
        return items
    if name in _CODES:
        if value not in _CODES[name]:
            raise ValueError(f"{name} must be one of {', '.join(_CODES[name])}")
        return value
    if name == "unauthorized":
        if not isinstance(value, bool):
            raise ValueError("unauthorized must be true or false")
        return value
    if name.endswith("_next"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0")
    return float(value)


def _in_scope(scope: frozenset[str] | None, name: str) -> bool:
    return scope is None or name in scope


class Faults:
    """The live fault settings of one server; every method is thread-safe."""

    def __init__(self, **knobs: Any) -> None:
        self._lock = threading.Lock()
        self._initial = {**FAULT_KNOBS, **validate_knobs(knobs)}
        self._knobs = dict(self._initial)

    def configure(self, **knobs: Any) -> None:
        """Change some knobs; the others keep their current values."""
        clean = validate_knobs(knobs)
        with self._lock:
            self._knobs.update(clean)

    def reset(self) -> None:
        """Back to the knobs the server started with."""
        with self._lock:
            self._knobs = dict(self._initial)

    def clear(self) -> None:
        """No faults at all."""
        with self._lock:
            self._knobs = dict(FAULT_KNOBS)

    def snapshot(self) -> dict[str, Any]:
        """The current knobs, JSON-ready (sets as sorted lists)."""
        with self._lock:
            knobs = dict(self._knobs)
        return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in knobs.items()}

    def not_enabled(self, region: str) -> bool:
        with self._lock:
            return region in self._knobs["not_enabled_regions"]

    def decide(self, region: str, action: str) -> FaultDecision:
        """The fault for one call to `action` in `region`, consuming any counter it uses."""
        with self._lock:
            k = self._knobs
            delay = k["latency"] if _in_scope(k["latency_regions"], region) else 0.0
            transport = self._take_transport(region)
            if transport == "timeout":
                delay += k["timeout_seconds"]
            elif transport is not None:
                return FaultDecision(delay, transport)
            return FaultDecision(delay, transport, self._take_error(region, action))

    def _take_transport(self, region: str) -> str | None:
        for counter, kind in _TRANSPORT:
            if self._take(counter, f"{kind}_regions", region):
                return kind
        return None

    def _take_error(self, region: str, action: str) -> str | None:
        k = self._knobs
        if region in k["not_enabled_regions"]:
            return k["not_enabled_code"]
        if self._unauthorized(region, action):
            return "UnauthorizedOperation"
        if self._take("throttle_next", "throttle_regions", region):
            return "RequestLimitExceeded"
        if self._take("server_errors_next", "server_errors_regions", region):
            return k["server_error_code"]
        return None

    def _unauthorized(self, region: str, action: str) -> bool:
        k = self._knobs
        if not k["unauthorized"] and k["unauthorized_regions"] is None:
            return False
        return _in_scope(k["unauthorized_regions"], region) and _in_scope(
            k["unauthorized_actions"], action
        )

    def _take(self, counter: str, scope: str, region: str) -> bool:
        if self._knobs[counter] > 0 and _in_scope(self._knobs[scope], region):
            self._knobs[counter] -= 1
            return True
        return False
