"""Start-up checks: the CRD is served and every permission the operator uses is granted.

Both fail fast with a message naming what is missing, instead of a silent 404 or 403 loop.
REQUIRED mirrors charts/spotter/files/operator-rbac.yaml (a unit test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from spotter.operator.kube import Kube, KubeError
from spotter.operator.watch import CRD_NAME, GROUP, PLURAL, VERSION


class PreflightError(RuntimeError):
    """The operator cannot do its job in this cluster; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Permission:
    """One verb on one resource, as RBAC spells it (`group` "" is the core group)."""

    verb: str
    group: str
    resource: str  # may carry a subresource: spotwatches/status

    def __str__(self) -> str:
        group = f".{self.group}" if self.group else ""
        base, _, sub = self.resource.partition("/")
        return f"{self.verb} {base}{group}" + (f"/{sub}" if sub else "")


def _perms(group: str, resource: str, *verbs: str) -> list[Permission]:
    return [Permission(verb, group, resource) for verb in verbs]


#: Grouped as in operator-rbac.yaml: framework (kopf itself), then application.
FRAMEWORK: tuple[Permission, ...] = (
    *_perms(GROUP, PLURAL, "list", "watch", "patch"),
    *_perms(GROUP, f"{PLURAL}/status", "patch"),
    *_perms("", "events", "create"),
)
APPLICATION: tuple[Permission, ...] = (
    *_perms(GROUP, PLURAL, "get"),
    *_perms("apps", "deployments", "list", "watch", "create", "patch", "delete"),
)
REQUIRED: tuple[Permission, ...] = FRAMEWORK + APPLICATION


def check_crd(kube: Kube) -> None:
    """Raise PreflightError unless spotwatches.spotter.dev/v1alpha1 is served."""
    try:
        served = kube.served_resources(GROUP, VERSION)
    except KubeError as exc:
        raise PreflightError(f"cannot check for the CRD {CRD_NAME}: {exc}") from exc
    if served is None or PLURAL not in served:
        raise PreflightError(
            f"the CustomResourceDefinition {CRD_NAME} ({GROUP}/{VERSION}) is not installed or "
            f"not yet established; install it (kubectl apply -f crds/{CRD_NAME}.yaml, or the "
            "Helm chart) and start the operator again"
        )


def missing_permissions(
    kube: Kube, namespaces: Iterable[str | None], required: Iterable[Permission] = REQUIRED
) -> list[tuple[Permission, str | None]]:
    """Every (permission, namespace) the API server says this identity lacks.

    A namespace of None means cluster-wide (every namespace), as --all-namespaces needs.
    """
    missing = []
    for namespace in namespaces:
        for perm in required:
            resource, _, sub = perm.resource.partition("/")
            try:
                allowed, _reason = kube.can_i(perm.verb, perm.group, resource, namespace, sub)
            except KubeError as exc:
                raise PreflightError(f"cannot review the operator's permissions: {exc}") from exc
            if not allowed:
                missing.append((perm, namespace))
    return missing


def check_permissions(kube: Kube, namespaces: Iterable[str | None]) -> None:
    """Raise PreflightError naming every missing verb and resource (and where)."""
    missing = missing_permissions(kube, namespaces)
    if missing:
        listed = "; ".join(
            f"{perm} in namespace {ns}" if ns else f"{perm} in all namespaces"
            for perm, ns in missing
        )
        raise PreflightError(
            f"the operator's ServiceAccount lacks RBAC permissions: {listed} "
            "(see charts/spotter/files/operator-rbac.yaml)"
        )
