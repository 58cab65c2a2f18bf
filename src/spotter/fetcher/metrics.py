"""Fetcher metrics on their own port (prometheus_client's HTTP server)."""

from __future__ import annotations

from prometheus_client import start_http_server


def serve_metrics(port: int) -> None:
    start_http_server(port)
