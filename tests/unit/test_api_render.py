"""Rendering: exact prices as JSON numbers, ISO times with Z, honest ages and staleness."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from spotter.api import render


@pytest.mark.parametrize("text", ["0.0035", "0.003500", "9.8304", "0.0001", "31.2216", "1e-4"])
def test_prices_print_back_the_digits_aws_sent(text: str) -> None:
    printed = json.dumps(render.price(Decimal(text)))
    assert Decimal(printed) == Decimal(text)


def test_age_is_never_negative_and_stale_means_older_than_expiry() -> None:
    assert render.age(100.0, 100.5) == 0.0
    assert render.age(100.0, None) is None
    assert render.is_stale(1000.0, 400.0, 600.0) is False
    assert render.is_stale(1000.0, 399.0, 600.0) is True
    assert render.is_stale(1000.0, None, 600.0) is True


def test_iso_is_utc_with_z() -> None:
    assert render.iso(1735008000.0) == "2024-12-24T02:40:00Z"
    assert render.iso(None) is None
