"""Error message wording: counts agree in number, long lists are cut short."""

from __future__ import annotations

from spotter.api.wording import closest, count, distance, names


def test_counts_agree_in_number() -> None:
    assert [count(n, "region") for n in (0, 1, 2)] == ["0 regions", "1 region", "2 regions"]
    assert count(3, "zone", "zones") == "3 zones"


def test_long_lists_of_names_are_cut_short() -> None:
    assert names(["a", "b"]) == "a, b"
    assert names([f"r{i}" for i in range(10)]) == "r0, r1, r2, r3, r4, r5, r6, r7 and 2 more"


def test_suggestions_are_the_closest_name_at_most_two_edits_away() -> None:
    assert closest("region", ["product", "regions", "max_age"]) == "regions"
    assert closest("t3.mirco", ["t3.micro", "t3.small"]) == "t3.micro"  # a swap is one edit
    assert closest("c5.larg", ["c5.large", "c5.xlarge"]) == "c5.large"
    assert closest("p4d.24xlarge", ["t3.micro", "c5.large"]) is None
    assert closest("t3.micro", ["t3.micro"]) is None  # the same name is no suggestion
    assert distance("m5.large", "m6g.large", 2) == 2
    assert distance("abcdef", "uvwxyz", 2) == 3
