"""kopf handlers: thin adapters from kopf's causes to the Reconciler and the runtime.

Errors map to kopf's vocabulary: SpecError -> PermanentError (retrying cannot fix a spec),
RetryLater -> TemporaryError(delay) with bounded retries (the resync loop keeps trying after).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import kopf

from spotter.operator.manifests import FIELD_MANAGER, LABEL_WATCH
from spotter.operator.reconciler import RetryLater
from spotter.operator.runtime import Runtime, StartupError, build_runtime, resync_forever
from spotter.operator.settings import configure, served_namespaces
from spotter.operator.watch import GROUP, PLURAL, VERSION, SpecError

RETRIES = 6  # then the handler gives up and the resync loop retries every interval


@kopf.on.startup()
async def start(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger,
    spotwatch_keys: kopf.Index[tuple[str, str], str], **_: Any,
) -> None:
    configure(settings)
    try:
        runtime = await asyncio.to_thread(build_runtime, served_namespaces(settings))
    except StartupError as exc:
        logger.error("cannot start: %s", exc)
        raise kopf.PermanentError(str(exc)) from exc
    memo.runtime = runtime
    runtime.task = asyncio.create_task(resync_forever(runtime, lambda: list(spotwatch_keys)))
    logger.info("spotter operator ready: fetcher image %s, resync every %gs",
                runtime.config.fetcher_image, runtime.config.resync_interval)


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is None:
        return
    if runtime.task is not None:
        runtime.task.cancel()
    runtime.close()


@kopf.index(GROUP, VERSION, PLURAL)
def spotwatch_keys(namespace: str, name: str, uid: str, **_: Any) -> dict[tuple[str, str], str]:
    """Every served SpotWatch, for the resync loop (no finalizer, unlike a timer)."""
    return {(namespace, name): uid}


@kopf.on.resume(GROUP, VERSION, PLURAL, retries=RETRIES)
@kopf.on.create(GROUP, VERSION, PLURAL, retries=RETRIES)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec", retries=RETRIES)
def reconcile(
    namespace: str, name: str, reason: str, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    runtime: Runtime = memo.runtime
    try:
        result = runtime.reconciler.sync(namespace, name, trigger=str(reason))
    except SpecError as exc:
        raise kopf.PermanentError(str(exc)) from exc
    except RetryLater as exc:
        raise kopf.TemporaryError(str(exc), delay=exc.delay) from exc
    if result is not None:
        logger.info("reconciled (%s): %d shard(s), pruned %s", reason, len(result.shards),
                    ", ".join(result.pruned) or "none")


@kopf.on.event(
    "apps", "v1", "deployments",
    labels={LABEL_WATCH: kopf.PRESENT, "app.kubernetes.io/managed-by": FIELD_MANAGER},
)
def fetcher_changed(
    type: str | None, name: str, namespace: str, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    """A fetcher Deployment changed or went away: reconcile its SpotWatch now."""
    if type is None:  # the initial listing; resume handlers cover it
        return
    runtime: Runtime | None = memo.get("runtime")
    if runtime is None:
        return
    # Failures are reported on the SpotWatch; the resync loop retries.
    with contextlib.suppress(SpecError, RetryLater):
        runtime.reconciler.sync(namespace, labels[LABEL_WATCH], trigger=f"{type} {name}")


@kopf.on.probe(id="resyncAgeSeconds", errors=kopf.ErrorsMode.PERMANENT)
def resync_age(memo: kopf.Memo, **_: Any) -> float:
    """Liveness: fails when the resync loop has stopped beating."""
    runtime: Runtime | None = memo.get("runtime")
    if runtime is None:
        return 0.0
    age = time.monotonic() - runtime.heartbeat
    if age > runtime.stall_limit or (runtime.task is not None and runtime.task.done()):
        raise kopf.PermanentError(f"the resync loop is stuck ({age:.0f}s since its last beat)")
    return round(age, 1)
