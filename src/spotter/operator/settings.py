"""kopf's settings for this operator, and where it was told to look (--namespace/--all-namespaces).

Choices, and why:
- Explicit watch timeouts: a watch that silently stalls (a proxy dropping idle streams) is
  re-opened within minutes instead of never.
- Standalone (no peering): the chart runs one replica with the Recreate strategy, so there is
  never a second operator to coordinate with, and no peering CRD or RBAC is needed.
- Scanning off: no list/watch of CRDs or namespaces (a namespaced Role suffices); the CRD is
  checked once at start (preflight) instead, and --namespace values are taken as exact names.
- No finalizers: nothing has to happen before a SpotWatch goes away (fetcher Deployments are
  garbage-collected through their ownerReferences), so deleting one never depends on the
  operator running. That is also why drift repair is a resync loop and not a kopf timer:
  kopf timers and daemons put a finalizer on every object they serve.
- Handler progress lives in status.kopf (declared with x-kubernetes-preserve-unknown-fields in
  the CRD, so it survives) rather than in annotations.
- kopf posts Events only for warnings (handler failures); the operator posts its own.
"""

from __future__ import annotations

import logging

import click
import kopf

from spotter.operator.manifests import FIELD_MANAGER, LABEL_WATCH

# The API server ends each watch after this long (an int: it becomes ?timeoutSeconds=300).
SERVER_TIMEOUT = 300
CLIENT_TIMEOUT = 330.0  # give up on a watch request the server did not end
CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 60.0


def configure(settings: kopf.OperatorSettings) -> None:
    """Apply the operator's kopf settings (called from the startup handler)."""
    settings.watching.server_timeout = SERVER_TIMEOUT
    settings.watching.client_timeout = CLIENT_TIMEOUT
    settings.watching.connect_timeout = CONNECT_TIMEOUT
    settings.networking.request_timeout = REQUEST_TIMEOUT
    settings.networking.connect_timeout = CONNECT_TIMEOUT
    # Only our own fetcher Deployments are streamed, filtered by the API server.
    settings.watching.label_selectors["apps", "deployments"] = (
        f"app.kubernetes.io/managed-by={FIELD_MANAGER},{LABEL_WATCH}"
    )
    settings.peering.standalone = True
    settings.peering.mandatory = False
    settings.scanning.disabled = True
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = FIELD_MANAGER
    settings.execution.max_workers = 8


def served_namespaces(settings: kopf.OperatorSettings) -> list[str | None] | None:
    """[None] when cluster-wide; the exact --namespace values otherwise; None if unknown.

    kopf passes its namespaces to no handler, so they are read from the `kopf run` command
    line (click's context); glob patterns are left out (they cannot be access-reviewed).
    """
    if settings.peering.clusterwide:
        return [None]
    context = click.get_current_context(silent=True)
    patterns = context.params.get("namespaces") if context is not None else None
    if not patterns:
        return None
    return [ns for ns in patterns if not any(c in ns for c in "*?[!")]
