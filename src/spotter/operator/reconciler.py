"""One idempotent reconcile of a SpotWatch: plan, apply, prune, report.

Called by the kopf handlers (create/update/resume, a child Deployment changed) and by the
periodic resync; calls for the same SpotWatch run one at a time. The pure parts live in
planning, manifests and status; the API server is reached only through kube.Kube.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from spotter.aws.errors import AwsError
from spotter.operator.config import OperatorConfig
from spotter.operator.events import Notice, Recorder, notices
from spotter.operator.kube import Kube, KubeError
from spotter.operator.manifests import (
    fetcher_deployment,
    owned_selector,
    shard_of,
    template_drift,
)
from spotter.operator.planning import Shard, plan_shards
from spotter.operator.regions import RegionCatalog, enabled_regions
from spotter.operator.status import Observation, build_status, failure_status
from spotter.operator.watch import SpecError, Watch
from spotter.store import Store, StoreUnavailable

log = logging.getLogger("spotter.operator")

class RetryLater(RuntimeError):
    """A failure that may pass (AWS or API server trouble, RBAC being fixed); retry after delay."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


@dataclass(frozen=True, slots=True)
class Result:
    """What one reconcile did, for logs and tests."""

    shards: tuple[Shard, ...]
    applied: int
    pruned: tuple[str, ...]
    restored: tuple[str, ...]


class Reconciler:
    """Reconciles SpotWatches; holds the runtime objects every reconcile needs."""

    def __init__(
        self,
        kube: Kube,
        store: Store,
        catalog: RegionCatalog,
        config: OperatorConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.store = store
        self.catalog = catalog
        self.config = config
        self.clock = clock
        self.events = Recorder(kube, clock)
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def sync(self, namespace: str, name: str, *, trigger: str) -> Result | None:
        """Bring one SpotWatch's children and status in line with its spec; None if it is gone.

        Raises SpecError (never retry) or RetryLater (retry after `.delay`).
        """
        with self._lock((namespace, name)):
            body = self._get(namespace, name)
            if body is None or body["metadata"].get("deletionTimestamp"):
                with self._guard:
                    self._locks.pop((namespace, name), None)
                return None
            log.debug("reconciling %s/%s (%s)", namespace, name, trigger)
            try:
                return self._sync(body)
            except SpecError as exc:
                self._report_failure(body, "InvalidSpec", str(exc))
                raise
            except RetryLater as exc:
                self._report_failure(body, "ReconcileFailed", str(exc))
                raise

    def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.kube.get_watch(namespace, name)
        except KubeError as exc:
            raise RetryLater(str(exc), 60 if exc.forbidden else 10) from exc

    def _sync(self, body: dict[str, Any]) -> Result:
        watch = Watch.from_body(body)
        regions, catalog = self._regions(watch, body)
        live = {d["metadata"]["name"]: d for d in self._list(watch)}
        reported = reported_shards(body)
        previous = [s for d in live.values() if (s := shard_of(d)) is not None]
        # A Deployment deleted by hand is still in the last status: plan as if it were there.
        present = {s.index for s in previous}
        previous += [s for s in reported if s.index not in present]
        plan = plan_shards(regions, watch.regions_per_shard, previous)

        applied: dict[str, dict[str, Any]] = {}
        restored: list[str] = []
        for shard in plan:
            desired = fetcher_deployment(watch, shard, self.config)
            name = desired["metadata"]["name"]
            result = self._kube("patch", lambda d=desired: self.kube.apply_deployment(d))
            if template_drift(desired, result):
                template = desired["spec"]["template"]
                result = self._kube("patch", lambda n=name, t=template: (
                    self.kube.replace_pod_template(watch.namespace, n, t)))
                restored.append(f"{name} (edited)")
            elif name not in live and shard.index in {s.index for s in reported}:
                restored.append(f"{name} (missing)")
            applied[name] = result

        pruned = []
        for name, deployment in live.items():
            if name not in applied:
                uid = deployment["metadata"]["uid"]
                self._kube("delete", lambda n=name, u=uid: self.kube.delete_deployment(
                    watch.namespace, n, u))
                pruned.append(name)

        for notice in notices(watch, previous, plan, catalog, pruned, restored,
                              body.get("status")):
            self.events.post(body, notice)
        status = build_status(watch, self._observe(plan, applied, catalog), body.get("status"))
        self._patch_status(body, status)
        return Result(tuple(plan), len(applied), tuple(pruned), tuple(restored))

    def _regions(self, watch: Watch, body: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
        """The regions to plan, and the catalog as far as it is known."""
        if watch.regions:
            return list(watch.regions), self.catalog.known()
        try:
            catalog = self.catalog.statuses()
        except AwsError as exc:
            self.events.post(body, Notice(
                "Warning", "RegionDiscoveryFailed",
                f"cannot list the account's regions (DescribeRegions): {exc}"))
            raise RetryLater(f"region discovery failed: {exc}", 30) from exc
        return enabled_regions(catalog), catalog

    def _list(self, watch: Watch) -> list[dict[str, Any]]:
        return self._kube(
            "list", lambda: self.kube.list_deployments(watch.namespace, owned_selector(watch.name))
        )

    def _kube(self, verb: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except KubeError as exc:
            if exc.forbidden:
                raise RetryLater(f"permission denied: {exc}", 60) from exc
            raise RetryLater(str(exc), 10 if exc.transient else 30) from exc

    def _observe(
        self, plan: list[Shard], applied: dict[str, dict[str, Any]], catalog: dict[str, str]
    ) -> Observation:
        planned = sorted({r for s in plan for r in s.regions})
        try:
            regions = self.store.region_statuses(planned) if planned else {}
        except StoreUnavailable as exc:
            log.warning("region freshness unavailable: %s", exc)
            regions = None
        return Observation(plan, applied, regions, catalog, self.clock())

    def _patch_status(self, body: Mapping[str, Any], status: dict[str, Any]) -> None:
        meta = body["metadata"]
        old_regions = (body.get("status") or {}).get("regions") or {}
        patch = {**status, "regions": {
            **{region: None for region in old_regions if region not in status["regions"]},
            **status["regions"],
        }}
        self._kube("patch", lambda: self.kube.patch_watch_status(
            meta["namespace"], meta["name"], patch))

    def _report_failure(self, body: Mapping[str, Any], reason: str, message: str) -> None:
        """Say on the object why it is not reconciled; never masks the original failure."""
        if reason == "ReconcileFailed" and "permission denied" in message:
            self.events.post(body, Notice("Warning", "PermissionDenied", message))
        patch = failure_status(reason, message, body["metadata"].get("generation", 0),
                               self.clock(), body.get("status"))
        try:
            self.kube.patch_watch_status(
                body["metadata"]["namespace"], body["metadata"]["name"], patch)
        except KubeError as exc:
            log.warning("could not record the failure in the status: %s", exc)


def reported_shards(body: Mapping[str, Any]) -> list[Shard]:
    """The shards the last status reported (the operator's memory of its own plan)."""
    shards = []
    for item in (body.get("status") or {}).get("shards") or []:
        index, regions = item.get("index"), item.get("regions")
        if isinstance(index, int) and isinstance(regions, list):
            shards.append(Shard(index, tuple(str(r) for r in regions)))
    return shards
