"""The operator's only conversation with the API server: a few plain-dict calls.

Objects go in and come out as dicts, exactly as the API server speaks them (the typed models
are bypassed with `_preload_content=False`). Every failure becomes a KubeError that says which
verb on which resource failed and whether retrying can help.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from spotter.operator.manifests import FIELD_MANAGER
from spotter.operator.watch import GROUP, PLURAL, VERSION

TIMEOUT = (5.0, 30.0)  # connect, read


class KubeError(RuntimeError):
    """A failed API call; `status` is the HTTP status (0 when the server was not reached)."""

    def __init__(self, verb: str, resource: str, status: int, message: str) -> None:
        super().__init__(f"{verb} {resource}: HTTP {status}: {message}" if status else
                         f"{verb} {resource}: {message}")
        self.verb = verb
        self.resource = resource
        self.status = status

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def transient(self) -> bool:
        """Worth retrying soon: unreachable, throttled, conflicting or failing server-side."""
        return self.status in (0, 409, 429) or self.status >= 500


def _error(verb: str, resource: str, exc: Exception) -> KubeError:
    if isinstance(exc, ApiException):
        message = exc.reason or ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(exc.body or "{}").get("message") or message
        return KubeError(verb, resource, int(exc.status or 0), str(message))
    return KubeError(verb, resource, 0, f"{type(exc).__name__}: {exc}")


def _json(response: Any) -> dict[str, Any]:
    return json.loads(response.data or b"{}")


class Kube:
    """Typed access to SpotWatches, their fetcher Deployments, Events and access reviews."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.authz = client.AuthorizationV1Api(api)

    @classmethod
    def from_environment(cls) -> Kube:
        """In-cluster credentials in a pod, else the kubeconfig (KUBECONFIG or ~/.kube/config)."""
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return cls(client.ApiClient(configuration))
        return cls(config.new_client_from_config())

    def _call(self, verb: str, resource: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _error(verb, resource, exc) from exc

    # -- SpotWatches -------------------------------------------------------------------------

    def get_watch(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The SpotWatch, or None if it is gone."""
        try:
            response = self._call(
                "get", PLURAL, self.custom.get_namespaced_custom_object,
                GROUP, VERSION, namespace, PLURAL, name,
            )
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        return _json(response)

    def patch_watch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge `status` into the SpotWatch through the status subresource."""
        self._call(
            "patch", f"{PLURAL}/status", self.custom.patch_namespaced_custom_object_status,
            GROUP, VERSION, namespace, PLURAL, name, {"status": dict(status)},
            _content_type="application/merge-patch+json",
        )

    # -- fetcher Deployments ---------------------------------------------------------------

    def list_deployments(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        response = self._call(
            "list", "deployments", self.apps.list_namespaced_deployment,
            namespace, label_selector=selector,
        )
        return list(_json(response).get("items", []))

    def apply_deployment(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply as the operator's field manager; force takes fields back."""
        meta = manifest["metadata"]
        response = self._call(
            "patch", "deployments", self.apps.patch_namespaced_deployment,
            meta["name"], meta["namespace"], dict(manifest),
            field_manager=FIELD_MANAGER, force=True,
            _content_type="application/apply-patch+yaml",
        )
        return _json(response)

    def replace_pod_template(
        self, namespace: str, name: str, template: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Set the whole pod template, dropping fields others added (JSON patch `replace`)."""
        response = self._call(
            "patch", "deployments", self.apps.patch_namespaced_deployment,
            name, namespace, [{"op": "replace", "path": "/spec/template", "value": template}],
            field_manager=FIELD_MANAGER, _content_type="application/json-patch+json",
        )
        return _json(response)

    def delete_deployment(self, namespace: str, name: str, uid: str) -> None:
        """Delete one Deployment, only if it is still the object we listed (uid)."""
        body = {"preconditions": {"uid": uid}, "propagationPolicy": "Background"}
        try:
            self._call(
                "delete", "deployments", self.apps.delete_namespaced_deployment,
                name, namespace, body=body,
            )
        except KubeError as exc:
            if not exc.not_found and exc.status != 409:
                raise

    # -- Events ------------------------------------------------------------------------------

    def post_event(
        self, involved: Mapping[str, Any], type_: str, reason: str, message: str
    ) -> None:
        """Record a core/v1 Event about `involved` (a SpotWatch body) for `kubectl describe`."""
        meta = involved["metadata"]
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", f"{GROUP}/{VERSION}"),
                "kind": involved.get("kind", "SpotWatch"),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "firstTimestamp": now[:19] + "Z",
            "lastTimestamp": now[:19] + "Z",
            "eventTime": now,
            "count": 1,
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "reportingInstance": os.environ.get("HOSTNAME", FIELD_MANAGER)[:128],
            "action": reason,
        }
        self._call(
            "create", "events", self.core.create_namespaced_event, meta["namespace"], event
        )

    # -- preflight -----------------------------------------------------------------------------

    def served_resources(self, group: str, version: str) -> set[str] | None:
        """Plural names served under group/version, or None if the group/version is not served."""
        try:
            response = self._call(
                "get", f"/apis/{group}/{version}", self.custom.get_api_resources, group, version
            )
        except KubeError as exc:
            if exc.not_found:
                return None
            raise
        return {item["name"] for item in _json(response).get("resources", [])}

    def can_i(
        self, verb: str, group: str, resource: str, namespace: str | None,
        subresource: str = "",
    ) -> tuple[bool, str]:
        """SelfSubjectAccessReview: may this operator do `verb` on `resource` (in `namespace`)?"""
        attrs: dict[str, Any] = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attrs["namespace"] = namespace
        if subresource:
            attrs["subresource"] = subresource
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attrs},
        }
        response = self._call(
            "create", "selfsubjectaccessreviews",
            self.authz.create_self_subject_access_review, body,
        )
        status = _json(response).get("status", {})
        return bool(status.get("allowed")), str(status.get("reason") or "")
