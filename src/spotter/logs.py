"""Logging setup shared by every process: plain or JSON lines, each naming its process role,
its worker (pid) or shard, the request id while a request is answered, and never a secret."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from spotter.config import Settings

#: The id of the request being answered by this thread (set by the API's middleware).
request_id: ContextVar[str | None] = ContextVar("spotter_request_id", default=None)

_CONTEXT_KEYS = ("request_id", "shard", "region")
_NOISY = ("botocore", "urllib3", "boto3")
#: Environment variables whose values never appear in a log line.
SECRET_VARIABLES = ("REDIS_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def secrets_of(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The secret strings this process knows: the Redis password (as given and URL-encoded)
    and AWS secret keys. Short values are ignored: masking "a" would mangle every line."""
    env = os.environ if env is None else env
    found = [env.get(name, "") for name in SECRET_VARIABLES]
    password = _url_password(settings.redis_url)
    if password:
        found += [password, unquote(password), quote(unquote(password), safe="")]
    return tuple(sorted({s for s in found if len(s) >= 4}, key=len, reverse=True))


def _url_password(url: str) -> str | None:
    # As config.redact_url reads it: on the text, for URLs urlsplit refuses too.
    _, sep, rest = url.partition("://")
    userinfo, at, _ = rest.rpartition("@")
    _, colon, password = userinfo.partition(":")
    return password if sep and at and colon and password else None


class _SpotterFormatter(logging.Formatter):
    """Adds the context fields and masks secrets in the finished line, tracebacks included."""

    def __init__(self, role: str, shard: str | None, secrets: Iterable[str]) -> None:
        super().__init__()
        self.role = role
        self.shard = shard
        self.secrets = tuple(secrets)

    def context(self, record: logging.LogRecord) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.shard:
            fields["shard"] = self.shard
        current = request_id.get()
        if current:
            fields["request_id"] = current
        for key in _CONTEXT_KEYS:
            if hasattr(record, key):
                fields[key] = getattr(record, key)
        return fields

    def mask(self, line: str) -> str:
        for secret in self.secrets:
            if secret in line:
                line = line.replace(secret, "***")
        return line


class JsonFormatter(_SpotterFormatter):
    """One JSON object a line: ts, level, logger, role, pid, msg, context fields, exc."""

    def __init__(
        self, role: str, shard: str | None = None, secrets: Iterable[str] = ()
    ) -> None:
        super().__init__(role, shard, secrets)

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "role": self.role,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        doc.update(self.context(record))
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        # Masked before encoding: JSON escapes would hide a secret holding '"' or '\\'.
        return json.dumps({k: self.mask(v) if isinstance(v, str) else v for k, v in doc.items()},
                          default=str)


class PlainFormatter(_SpotterFormatter):
    """`2025-01-01 12:00:00,000 INFO api[42] spotter.api: message request_id=abc`."""

    def __init__(
        self, role: str, shard: str | None = None, secrets: Iterable[str] = ()
    ) -> None:
        super().__init__(role, shard, secrets)

    def format(self, record: logging.LogRecord) -> str:
        who = f"{self.role}[{record.process}]"
        line = (
            f"{self.formatTime(record)} {record.levelname} {who} {record.name}: "
            f"{record.getMessage()}"
        )
        context = self.context(record)
        if context:
            line += " " + " ".join(f"{k}={v}" for k, v in context.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self.mask(line)


def make_handler(
    settings: Settings, role: str, *, shard: str | None = None, stream: Any = None
) -> logging.Handler:
    """A stderr handler in the configured format (also used by Gunicorn's logconfig_dict)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    kind = JsonFormatter if settings.log_format == "json" else PlainFormatter
    handler.setFormatter(kind(role, shard, secrets_of(settings)))
    return handler


def configure_logging(settings: Settings, role: str, *, shard: str | None = None) -> None:
    """Route every logger to stderr in the chosen format; `role` names the process (fetcher,
    api, operator) and `shard` the fetcher's shard on every line."""
    root = logging.getLogger()
    root.handlers[:] = [make_handler(settings, role, shard=shard)]
    root.setLevel(settings.log_level)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in ("gunicorn.error", "gunicorn.access"):
        # Gunicorn's own lines go through the same handler, in the same format.
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    os.environ.setdefault("SPOTTER_ROLE", role)


def handler_from_env(role: str) -> logging.Handler:
    """make_handler with the settings of this process's environment."""
    return make_handler(Settings.from_env(), role)


def gunicorn_logconfig(settings: Settings, role: str, *, access: bool = False) -> dict[str, Any]:
    """A `logconfig_dict` for Gunicorn: its master's and workers' lines in Spotter's format, and
    its access lines only when `access`. It holds no secret (Gunicorn prints its configuration
    at debug level)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"spotter": {"()": "spotter.logs.handler_from_env", "role": role}},
        "root": {"level": settings.log_level, "handlers": ["spotter"]},
        "loggers": {
            "gunicorn.error": {"level": settings.log_level, "handlers": [], "propagate": True},
            "gunicorn.access": {
                "level": "INFO" if access else "WARNING", "handlers": [], "propagate": True,
            },
            **{n: {"level": "WARNING"} for n in _NOISY},
        },
        "formatters": {},
    }
