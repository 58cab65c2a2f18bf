"""Chaos tests: faults injected into AWS (the replay endpoint), Redis and the fetcher process."""

from __future__ import annotations

import pytest

from support.figures import figures  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 signs every request; the replay endpoint reads the region from the signature.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
