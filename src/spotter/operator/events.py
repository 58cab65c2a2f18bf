"""Events a user should notice on a SpotWatch: what changed (pure) and how it is posted.

`notices` decides from a reconcile's outcome; `Recorder` posts through kube, and repeats the
same warning about the same SpotWatch at most every WARNING_REPEAT seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spotter.operator.kube import Kube, KubeError
from spotter.operator.planning import Shard, moved_regions
from spotter.operator.status import NOT_OPTED_IN
from spotter.operator.watch import Watch

log = logging.getLogger("spotter.operator")

WARNING_REPEAT = 600.0


@dataclass(frozen=True, slots=True)
class Notice:
    """One Event to post: `type_` is Normal or Warning."""

    type_: str
    reason: str
    message: str


def notices(
    watch: Watch, previous: Sequence[Shard], plan: Sequence[Shard], catalog: Mapping[str, str],
    pruned: Sequence[str], restored: Sequence[str], old_status: Mapping[str, Any] | None,
) -> list[Notice]:
    """What one reconcile did or found that a user should hear about."""
    found = []
    before = sorted((s.index, s.regions) for s in previous)
    if before != [(s.index, s.regions) for s in plan]:
        message = (f"{len(plan)} fetcher shard(s) over "
                   f"{sum(len(s.regions) for s in plan)} region(s)")
        if previous:
            moved = len(moved_regions(previous, plan))
            message += f" (was {len(previous)}); {moved} region(s) moved"
            message += f"; pruned {', '.join(sorted(pruned))}" if pruned else ""
        found.append(Notice("Normal", "ShardsChanged" if previous else "ShardsPlanned", message))
    if restored:
        found.append(Notice("Normal", "FetcherRestored",
                            "restored as planned: " + ", ".join(restored)))
    old_states = {r: (e or {}).get("state")
                  for r, e in ((old_status or {}).get("regions") or {}).items()}
    not_enabled = [r for r in watch.regions
                   if catalog.get(r) == NOT_OPTED_IN and old_states.get(r) != "not_enabled"]
    if not_enabled:
        found.append(Notice("Warning", "RegionNotEnabled",
                            f"not enabled for this AWS account: {', '.join(not_enabled)}; "
                            "its fetcher only reports it (enable it in the AWS console)"))
    unknown = [r for r in watch.regions if catalog and r not in catalog]
    if unknown:
        found.append(Notice("Warning", "RegionUnknown",
                            f"not a region of this AWS account: {', '.join(unknown)}"))
    return found


class Recorder:
    """Posts Events about SpotWatches; never fails the caller."""

    def __init__(self, kube: Kube, clock: Callable[[], float]) -> None:
        self.kube = kube
        self.clock = clock
        self._warned: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def post(self, body: Mapping[str, Any], notice: Notice) -> None:
        meta = body["metadata"]
        if notice.type_ == "Warning":
            key = (meta["namespace"], meta["name"], notice.reason)
            now = self.clock()
            with self._lock:
                last = self._warned.get(key)
                if last and last[0] == notice.message and now - last[1] < WARNING_REPEAT:
                    return
                self._warned[key] = (notice.message, now)
        log.info("%s/%s %s: %s", meta["namespace"], meta["name"], notice.reason, notice.message)
        try:
            self.kube.post_event(body, notice.type_, notice.reason, notice.message)
        except KubeError as exc:
            log.warning("could not post the %s event: %s", notice.reason, exc)
