"""The operator's configuration, read once from its environment into a frozen OperatorConfig.

Fetcher Deployments (what the operator creates):
  SPOTTER_FETCHER_IMAGE              image of the fetcher container (required)
  SPOTTER_FETCHER_IMAGE_PULL_POLICY  Always | IfNotPresent | Never (default IfNotPresent)
  SPOTTER_FETCHER_SERVICE_ACCOUNT    serviceAccountName of fetcher pods (default `default`)
  SPOTTER_FETCHER_RESOURCES          JSON container resources (default: requests cpu 50m,
                                     memory 128Mi; limits memory 256Mi)
  SPOTTER_FETCHER_POD_SECURITY_CONTEXT  JSON pod securityContext (default: runAsNonRoot,
                                     runAsUser/runAsGroup/fsGroup 10001, seccomp RuntimeDefault)
  SPOTTER_FETCHER_SECURITY_CONTEXT   JSON container securityContext (default: no privilege
                                     escalation, read-only root filesystem, drop ALL)
  SPOTTER_REDIS_SECRET_NAME          Secret holding the Redis password; fetchers get it as
                                     REDIS_PASSWORD through a secretKeyRef (optional)
  SPOTTER_REDIS_SECRET_KEY           key in that Secret (default `redis-password`)
  SPOTTER_AWS_SECRET_NAME            Secret with AWS_* keys, given to fetchers as envFrom (optional)
Copied into every fetcher when set (and used by the operator itself where they apply):
  REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_DB, SPOTTER_REDIS_PREFIX, SPOTTER_AWS_ENDPOINT_URL,
  SPOTTER_SOURCE, AWS_REGION, AWS_DEFAULT_REGION, LOG_LEVEL, SPOTTER_LOG_FORMAT,
  SPOTTER_FETCHER_METRICS_PORT
The operator itself:
  SPOTTER_OPERATOR_RESYNC_INTERVAL   how often every SpotWatch is re-checked: children repaired,
                                     status refreshed (default 30s; 1s..1h)
  Redis (REDIS_* as above, REDIS_PASSWORD) and AWS (SPOTTER_AWS_ENDPOINT_URL, AWS_*) through
  spotter.config.Settings: Redis for region freshness, AWS for DescribeRegions.

A Redis password must not travel in REDIS_URL: it would be copied in clear text into every
fetcher Deployment. Every bad value raises ConfigError naming the variable.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from spotter.config import ConfigError, Settings, parse_duration

#: Variables copied verbatim from the operator's environment into every fetcher, in this order.
PASSTHROUGH_ENV: tuple[str, ...] = (
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "SPOTTER_REDIS_PREFIX",
    "SPOTTER_AWS_ENDPOINT_URL",
    "SPOTTER_SOURCE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "LOG_LEVEL",
    "SPOTTER_LOG_FORMAT",
    "SPOTTER_FETCHER_METRICS_PORT",
)

DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"memory": "256Mi"},
}
# Together these satisfy the `restricted` Pod Security Standard.
DEFAULT_POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
DEFAULT_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
PULL_POLICIES = ("Always", "IfNotPresent", "Never")

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_IMAGE = re.compile(r"^[^\s]{1,512}$")


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    """Everything the operator reads from its environment; tests build it from a dict."""

    fetcher_image: str
    pull_policy: str = "IfNotPresent"
    service_account: str = "default"
    resources: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_RESOURCES)
    pod_security_context: Mapping[str, Any] = field(
        default_factory=lambda: DEFAULT_POD_SECURITY_CONTEXT
    )
    security_context: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_SECURITY_CONTEXT)
    redis_secret_name: str | None = None
    redis_secret_key: str = "redis-password"
    aws_secret_name: str | None = None
    passthrough: tuple[tuple[str, str], ...] = ()
    resync_interval: float = 30.0
    settings: Settings = field(default_factory=Settings)

    @property
    def metrics_port(self) -> int:
        return self.settings.fetcher_metrics_port

    @property
    def discovery_region(self) -> str:
        """The region whose endpoint answers DescribeRegions."""
        env = dict(self.passthrough)
        return env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OperatorConfig:
        """Parse the operator's environment (default: os.environ); raises ConfigError."""
        env = os.environ if env is None else env
        settings = Settings.from_env(env)  # validates REDIS_*, LOG_*, SPOTTER_SOURCE, ...
        image = _text(env, "SPOTTER_FETCHER_IMAGE")
        if image is None:
            raise ConfigError("SPOTTER_FETCHER_IMAGE: required (the fetcher container image)")
        if not _IMAGE.match(image):
            raise ConfigError(f"SPOTTER_FETCHER_IMAGE: {image!r} is not an image reference")
        pull_policy = _text(env, "SPOTTER_FETCHER_IMAGE_PULL_POLICY") or "IfNotPresent"
        if pull_policy not in PULL_POLICIES:
            raise ConfigError(
                f"SPOTTER_FETCHER_IMAGE_PULL_POLICY: {pull_policy!r} is not one of "
                + ", ".join(PULL_POLICIES)
            )
        redis_url = _text(env, "REDIS_URL")
        if redis_url and urlsplit(redis_url).password:
            raise ConfigError(
                "REDIS_URL: carries a password, which would be copied in clear text into every "
                "fetcher Deployment; use REDIS_HOST/REDIS_PORT and SPOTTER_REDIS_SECRET_NAME"
            )
        redis_secret = _name(env, "SPOTTER_REDIS_SECRET_NAME")
        if redis_secret and redis_url:
            raise ConfigError(
                "REDIS_URL: the password from SPOTTER_REDIS_SECRET_NAME only applies with "
                "REDIS_HOST/REDIS_PORT; unset REDIS_URL"
            )
        secret_key = _text(env, "SPOTTER_REDIS_SECRET_KEY") or "redis-password"
        if not _SECRET_KEY.match(secret_key):
            raise ConfigError(f"SPOTTER_REDIS_SECRET_KEY: {secret_key!r} is not a Secret key")
        resync_text = _text(env, "SPOTTER_OPERATOR_RESYNC_INTERVAL") or "30s"
        resync = parse_duration(resync_text, name="SPOTTER_OPERATOR_RESYNC_INTERVAL")
        if not 1 <= resync <= 3600:
            raise ConfigError(
                f"SPOTTER_OPERATOR_RESYNC_INTERVAL: {resync_text!r} is out of range (1s..1h)"
            )
        return cls(
            fetcher_image=image,
            pull_policy=pull_policy,
            service_account=_name(env, "SPOTTER_FETCHER_SERVICE_ACCOUNT") or "default",
            resources=_json_object(env, "SPOTTER_FETCHER_RESOURCES", DEFAULT_RESOURCES,
                                   allowed=("requests", "limits", "claims")),
            pod_security_context=_json_object(
                env, "SPOTTER_FETCHER_POD_SECURITY_CONTEXT", DEFAULT_POD_SECURITY_CONTEXT
            ),
            security_context=_json_object(
                env, "SPOTTER_FETCHER_SECURITY_CONTEXT", DEFAULT_SECURITY_CONTEXT
            ),
            redis_secret_name=redis_secret,
            redis_secret_key=secret_key,
            aws_secret_name=_name(env, "SPOTTER_AWS_SECRET_NAME"),
            passthrough=tuple(
                (name, value) for name in PASSTHROUGH_ENV if (value := _text(env, name))
            ),
            resync_interval=resync,
            settings=settings,
        )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _name(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if value is not None and not _DNS_SUBDOMAIN.match(value):
        raise ConfigError(f"{name}: {value!r} is not a Kubernetes object name")
    return value


def _json_object(
    env: Mapping[str, str],
    name: str,
    default: Mapping[str, Any],
    *,
    allowed: tuple[str, ...] | None = None,
) -> Mapping[str, Any]:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: must be a JSON object, got {type(value).__name__}")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ConfigError(
                f"{name}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
            )
    return value
