"""Logging setup shared by every process: plain or JSON lines, each naming its process role."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from spotter.config import Settings


class JsonFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "role": self.role,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        for key in ("request_id", "shard", "region"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(settings: Settings, role: str) -> None:
    """Route every logger to stderr in the chosen format; `role` names the process (fetcher
    shard, api worker, operator) on every line."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(role))
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)s {role}[%(process)d] %(name)s: %(message)s"
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for noisy in ("botocore", "urllib3", "boto3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    os.environ.setdefault("SPOTTER_ROLE", role)
