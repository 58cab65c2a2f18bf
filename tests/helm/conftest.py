"""Helm-only fixtures: the real helm binary and a values-file writer.

The helm binary is the one hack/build-testbin.sh builds from the Go module proxy (the
``testbin`` fixture of support.controlplane); nothing here is skipped when it is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helmlib import Helm

from support.controlplane import Testbin


@pytest.fixture(scope="session")
def helm_bin(testbin: Testbin) -> Path:
    """The real helm binary (built from helm.sh/helm/v4 and cached)."""
    return testbin.helm


@pytest.fixture(scope="session")
def helm(testbin: Testbin) -> Helm:
    return Helm(testbin)


@pytest.fixture
def values_file(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Write YAML text to a values file and return its path."""
    count = 0

    def write(text: str) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"values-{count}.yaml"
        path.write_text(text)
        return path

    yield write
