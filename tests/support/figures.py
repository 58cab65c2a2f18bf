"""Figures of the chaos, load and security tests, for docs/reliability.md.

Fixture `figures`: `figures.record(name, tried=..., served=..., lost=..., recovery=...)` appends
one JSON line to $SPOTTER_CHAOS_FIGURES when it is set (`make chaos` sets it and renders the
table); otherwise it only keeps the rows in memory. The tests assert; the figures only report.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

ENV = "SPOTTER_CHAOS_FIGURES"


@dataclass
class Figure:
    """One row of the reliability table."""

    name: str
    tried: str
    served: str
    lost: str
    recovery: str
    test: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


class FigureLog:
    def __init__(self, path: Path | None, test: str) -> None:
        self.path = path
        self.test = test
        self.rows: list[Figure] = []

    def record(
        self,
        name: str,
        *,
        tried: str,
        served: str,
        lost: str,
        recovery: str,
        **extra: Any,
    ) -> Figure:
        row = Figure(name, tried, served, lost, recovery, self.test, extra)
        self.rows.append(row)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as out:
                out.write(json.dumps(asdict(row), default=str) + "\n")
        return row


def seconds(value: float) -> str:
    """A duration for the table: `0.42 s`, `12.3 s`."""
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[FigureLog]:
    path = os.environ.get(ENV)
    yield FigureLog(Path(path) if path else None, request.node.nodeid)
