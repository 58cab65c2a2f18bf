"""A SpotWatch's status, built from its fetcher Deployments and the regions' state in Redis.

Pure: every input is passed in, `now` included. Every field written here is declared in the
CRD's status schema (a test round-trips a full status through the real API server).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spotter.model import RegionStatus, format_timestamp
from spotter.operator.manifests import deployment_name
from spotter.operator.planning import Shard
from spotter.operator.watch import Watch

NOT_OPTED_IN = "not-opted-in"
PROBLEM_STATES = ("error", "unauthorized", "throttled")


def stale_after(interval: float) -> float:
    """A region is stale when its last success is older than this: two intervals and a minute."""
    return 2 * interval + 60


@dataclass(frozen=True, slots=True)
class Observation:
    """What the reconcile saw, for the status builder."""

    shards: Sequence[Shard]
    deployments: Mapping[str, Mapping[str, Any]]  # live Deployments by name
    regions: Mapping[str, RegionStatus] | None  # None: Redis could not be read
    catalog: Mapping[str, str]  # region -> opt-in status, as far as known
    now: float
    error: str | None = None  # why the reconcile failed, if it did


def shard_status(watch: Watch, shard: Shard, deployment: Mapping[str, Any] | None) -> dict:
    spec = (deployment or {}).get("spec") or {}
    state = (deployment or {}).get("status") or {}
    meta = (deployment or {}).get("metadata") or {}
    replicas = int(spec.get("replicas", 0) or 0)
    ready_replicas = int(state.get("readyReplicas", 0) or 0)
    observed = int(state.get("observedGeneration", 0) or 0)
    ready = (
        deployment is not None
        and replicas > 0
        and ready_replicas >= replicas
        and observed >= int(meta.get("generation", 0) or 0)
    )
    return {
        "name": deployment_name(watch.name, shard.index),
        "index": shard.index,
        "regions": list(shard.regions),
        "replicas": replicas,
        "readyReplicas": ready_replicas,
        "ready": ready,
    }


def region_status(
    region: str, status: RegionStatus | None, catalog: Mapping[str, str], watch: Watch,
    now: float,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"state": "unknown" if status is None else status.state}
    if catalog.get(region) == NOT_OPTED_IN:
        entry["state"] = "not_enabled"
    if status is None:
        return entry
    if status.last_success is not None:
        age = max(0.0, now - status.last_success)
        entry["lastSuccess"] = _iso(status.last_success)
        entry["ageSeconds"] = int(age)
        entry["quotes"] = status.quotes
        if entry["state"] == "ok" and age > stale_after(watch.interval):
            entry["state"] = "stale"
    if status.last_error_at is not None and (
        status.last_success is None or status.last_error_at >= status.last_success
    ):
        kind = status.last_error_kind or "error"
        entry["lastError"] = f"{kind}: {status.last_error_message or ''}".strip()[:500]
        entry["lastErrorAt"] = _iso(status.last_error_at)
    return entry


def build_status(
    watch: Watch, seen: Observation, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The whole status to merge into the SpotWatch."""
    previous = previous or {}
    shards = [shard_status(watch, s, seen.deployments.get(deployment_name(watch.name, s.index)))
              for s in seen.shards]
    planned = sorted({r for s in seen.shards for r in s.regions})
    regions = {
        region: region_status(
            region,
            None if seen.regions is None else seen.regions.get(region) or RegionStatus(region),
            seen.catalog, watch, seen.now,
        )
        for region in planned
    }
    successes = [
        seen.regions[r].last_success for r in planned
        if seen.regions is not None and r in seen.regions
        and seen.regions[r].last_success is not None
    ]
    ready_count = sum(1 for s in shards if s["ready"])
    ready, degraded = _conditions(watch, seen, shards, regions)
    old = {c.get("type"): c for c in previous.get("conditions") or []}
    status: dict[str, Any] = {
        "observedGeneration": watch.generation,
        "typeCount": len(watch.instance_types),
        "regionCount": len(planned),
        "shardsReady": f"{ready_count}/{len(shards)}",
        "shards": shards,
        "regions": regions,
        "conditions": [
            _condition(kind, *values, watch.generation, seen.now, old.get(kind))
            for kind, values in (("Ready", ready), ("Degraded", degraded))
        ],
        "message": ready[2],
        "freshest": _iso(max(successes)) if successes else None,
        "oldest": _iso(min(successes)) if successes else None,
    }
    return status


def _conditions(
    watch: Watch, seen: Observation, shards: list[dict], regions: dict[str, dict]
) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    by_state: dict[str, list[str]] = {}
    for region, entry in regions.items():
        by_state.setdefault(entry["state"], []).append(region)
    return _ready(watch, seen, shards, regions), _degraded(seen, by_state)


def _ready(
    watch: Watch, seen: Observation, shards: list[dict], regions: dict[str, dict]
) -> tuple[str, str, str]:
    enabled = [r for r in regions if regions[r]["state"] != "not_enabled"]
    not_fresh = [r for r in enabled if regions[r]["state"] != "ok"]
    not_ready = [s["name"] for s in shards if not s["ready"]]
    if seen.error:
        return ("False", "ReconcileFailed", seen.error)
    if watch.paused:
        return ("False", "Paused", "spec.paused is true: every fetcher is scaled to zero")
    if not shards:
        return ("False", "NoRegions", "no region to watch (none listed or none enabled)")
    if seen.regions is None:
        return ("Unknown", "StoreUnavailable", "region freshness could not be read from Redis")
    if not_ready:
        return ("False", "ShardsNotReady",
                f"{len(shards) - len(not_ready)}/{len(shards)} fetcher shards ready; "
                f"waiting for {_names(not_ready)}")
    if not_fresh:
        return ("False", "RegionsNotFresh",
                f"{len(enabled) - len(not_fresh)}/{len(enabled)} regions fresh; "
                f"not yet: {_names(not_fresh)}")
    return ("True", "Fresh", f"all {len(enabled)} enabled regions refreshed within "
            f"{int(stale_after(watch.interval))}s")


def _degraded(seen: Observation, by_state: dict[str, list[str]]) -> tuple[str, str, str]:
    problems = [
        (state, names) for state in (*PROBLEM_STATES, "not_enabled", "stale")
        if (names := by_state.get(state))
    ]
    if seen.error:
        return ("True", "ReconcileFailed", seen.error)
    if seen.regions is None:
        return ("True", "StoreUnavailable", "Redis could not be read")
    if problems:
        reason = {"not_enabled": "RegionsNotEnabled", "stale": "RegionsStale"}.get(
            problems[0][0], "RegionErrors")
        return ("True", reason, "; ".join(f"{state}: {_names(names)}" for state, names in problems))
    return ("False", "AsExpected", "no region reports an error")


def failure_status(
    reason: str, message: str, generation: int, now: float,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The status patch of a reconcile that failed: Ready False, Degraded True, both `reason`."""
    old = {c.get("type"): c for c in (previous or {}).get("conditions") or []}
    return {
        "conditions": [
            _condition("Ready", "False", reason, message, generation, now, old.get("Ready")),
            _condition("Degraded", "True", reason, message, generation, now,
                       old.get("Degraded")),
        ],
        "message": message[:1000],
    }


def _condition(
    kind: str, status: str, reason: str, message: str, generation: int, now: float,
    old: Mapping[str, Any] | None,
) -> dict[str, Any]:
    since = (
        old.get("lastTransitionTime")
        if old and old.get("status") == status and old.get("lastTransitionTime")
        else _iso(now)
    )
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message[:1000],
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def _names(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(sorted(items)[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _iso(seconds: float) -> str:
    return format_timestamp(datetime.fromtimestamp(seconds, UTC))
