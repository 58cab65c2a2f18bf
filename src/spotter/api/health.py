"""`/health`: ok, degraded (some region stale or failing) or down (Redis unreachable, 503);
`/healthz` (the process answers) and `/readyz` (it can serve: Redis answers) for probes."""

from __future__ import annotations

import functools
import os
import socket
import time
import uuid
from typing import Any

import falcon

from spotter.api import render
from spotter.api.deps import ReadOnly, Resource
from spotter.api.errors import REDIS_RETRY_AFTER
from spotter.api.lookup import UNAUTHORIZED_MESSAGE
from spotter.model import RegionStatus
from spotter.store import StoreUnavailable


def worker() -> dict[str, Any]:
    """This process: its pid and an id that stays unique when pids repeat across pods."""
    pid = os.getpid()
    return {"pid": pid, "id": _worker_id(pid)}


@functools.cache
def _worker_id(pid: int) -> str:
    return f"{socket.gethostname()}/{pid}/{uuid.uuid4().hex[:8]}"


def reason(status: RegionStatus, stale: bool, age: float | None, expiry: float) -> str | None:
    """Why a region makes the service degraded, or None when it is fine."""
    region = status.region
    if status.state == "not_enabled":
        return f"{region}: region is not enabled for this AWS account (opt-in required)"
    if status.state == "unauthorized":
        return f"{region}: {UNAUTHORIZED_MESSAGE}"
    if status.state in ("error", "throttled"):
        kind = status.last_error_kind or status.state
        return f"{region}: last fetch failed ({kind}): {status.last_error_message or 'no detail'}"
    if status.last_success is None:
        return f"{region}: not fetched yet"
    if stale:
        return f"{region}: last successful fetch {age:.0f}s ago, older than {expiry:.0f}s"
    return None


class HealthResource(Resource):
    """Probes Redis (one round trip) and summarises every watched region."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        store = self.deps.store
        started = time.perf_counter()
        try:
            client_id = store.probe()
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            statuses = store.region_statuses(store.watched_regions())
        except StoreUnavailable as exc:
            resp.status = 503
            resp.set_header("Retry-After", str(REDIS_RETRY_AFTER))
            resp.media = {
                "status": "down",
                "reasons": [str(exc)],
                "redis": {"reachable": False, "latency_ms": None, "client_id": None},
                "regions": {},
                "worker": worker(),
            }
            return
        now, expiry = self.deps.clock(), self.deps.settings.cache_expiry
        regions: dict[str, Any] = {}
        reasons: list[str] = [] if statuses else ["no region is watched yet"]
        for region, status in sorted(statuses.items()):
            age = render.age(now, status.last_success)
            stale = render.is_stale(now, status.last_success, expiry)
            regions[region] = {"state": status.state, "age_seconds": age, "stale": stale}
            why = reason(status, stale, age, expiry)
            if why:
                reasons.append(why)
        resp.media = {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "redis": {"reachable": True, "latency_ms": latency_ms, "client_id": client_id},
            "regions": regions,
            "worker": worker(),
        }


class LivenessResource(ReadOnly):
    """`/healthz`: this worker process answers. Never touches Redis, so a Redis outage never
    gets the API restarted."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "alive", "worker": worker()}


class ReadinessResource(Resource):
    """`/readyz`: this worker can serve prices, i.e. Redis answers (one round trip); 503 with
    Retry-After while it does not, so Kubernetes routes requests elsewhere meanwhile."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self.deps.store.ping()
        except StoreUnavailable as exc:
            resp.status = 503
            resp.set_header("Retry-After", str(REDIS_RETRY_AFTER))
            resp.media = {"status": "not_ready", "reasons": [str(exc)], "worker": worker()}
            return
        resp.media = {"status": "ready", "reasons": [], "worker": worker()}
