"""Error message wording: counts agree in number, long lists are cut short."""

from __future__ import annotations

from spotter.api.wording import count, names


def test_counts_agree_in_number() -> None:
    assert [count(n, "region") for n in (0, 1, 2)] == ["0 regions", "1 region", "2 regions"]
    assert count(3, "zone", "zones") == "3 zones"


def test_long_lists_of_names_are_cut_short() -> None:
    assert names(["a", "b"]) == "a, b"
    assert names([f"r{i}" for i in range(10)]) == "r0, r1, r2, r3, r4, r5, r6, r7 and 2 more"
