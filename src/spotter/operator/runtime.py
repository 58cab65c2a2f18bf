"""The operator's runtime objects (built once at start, kept in kopf's memo) and its resync loop.

The resync loop is the level-triggered half of reconciliation: every interval it reconciles
each SpotWatch kopf serves, restoring children deleted or edited by hand and refreshing the
status from Redis, whether or not any event arrived.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from spotter.config import ConfigError
from spotter.operator.config import OperatorConfig
from spotter.operator.kube import Kube
from spotter.operator.preflight import PreflightError, check_crd, check_permissions
from spotter.operator.reconciler import Reconciler, RetryLater
from spotter.operator.regions import RegionCatalog
from spotter.operator.watch import SpecError
from spotter.store import Store

log = logging.getLogger("spotter.operator")


class StartupError(RuntimeError):
    """The operator cannot start: bad configuration, no CRD, or missing permissions."""


@dataclass
class Runtime:
    """Everything the handlers share; one per operator process."""

    config: OperatorConfig
    kube: Kube
    store: Store
    reconciler: Reconciler
    heartbeat: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None

    def close(self) -> None:
        self.store.close()

    @property
    def stall_limit(self) -> float:
        """The resync loop is stuck when its heartbeat is older than this."""
        return max(300.0, 5 * self.config.resync_interval)


def build_runtime(namespaces: list[str | None] | None) -> Runtime:
    """Read the configuration, check the cluster, and build the runtime; raises StartupError."""
    try:
        config = OperatorConfig.from_env()
    except ConfigError as exc:
        raise StartupError(f"configuration error: {exc}") from exc
    kube = Kube.from_environment()
    try:
        check_crd(kube)
        if namespaces is None:
            log.warning("served namespaces unknown (not started by `kopf run`?): "
                        "skipping the permission check")
        else:
            check_permissions(kube, namespaces)
    except PreflightError as exc:
        raise StartupError(str(exc)) from exc
    store = Store.from_settings(config.settings, max_connections=4)
    catalog = RegionCatalog.for_settings(config.settings, config.discovery_region)
    return Runtime(config, kube, store, Reconciler(kube, store, catalog, config))


async def resync_forever(
    runtime: Runtime, watches: Callable[[], Iterable[tuple[str, str]]]
) -> None:
    """Reconcile every served SpotWatch once per resync interval, until cancelled."""
    interval = runtime.config.resync_interval
    while True:
        runtime.heartbeat = time.monotonic()
        await asyncio.sleep(interval)
        for namespace, name in sorted(watches()):
            try:
                await asyncio.to_thread(
                    runtime.reconciler.sync, namespace, name, trigger="resync"
                )
            except (SpecError, RetryLater) as exc:
                log.warning("resync of %s/%s: %s", namespace, name, exc)
            except Exception:  # one broken object must not stop the loop for the others
                log.exception("resync of %s/%s failed", namespace, name)
            runtime.heartbeat = time.monotonic()
