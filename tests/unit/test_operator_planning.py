"""Shard planning: balanced, deterministic, and stable when regions come and go."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spotter.operator.planning import Shard, moved_regions, plan_shards, shard_count

SEVENTEEN = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-central-1", "eu-north-1", "ap-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1",
]

regions_st = st.lists(
    st.from_regex(r"[a-z]{2}-[a-z]{4,9}-[1-9]", fullmatch=True), min_size=0, max_size=40,
    unique=True,
)


def test_seventeen_regions_four_per_shard_golden() -> None:
    assert plan_shards(SEVENTEEN, 4) == [
        Shard(0, ("ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1")),
        Shard(1, ("ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1")),
        Shard(2, ("eu-north-1", "eu-west-1", "eu-west-2")),
        Shard(3, ("eu-west-3", "sa-east-1", "us-east-1")),
        Shard(4, ("us-east-2", "us-west-1", "us-west-2")),
    ]


def test_no_regions_no_shards() -> None:
    assert plan_shards([], 4) == []
    assert plan_shards([], 4, [Shard(0, ("us-east-1",))]) == []


def test_one_region_per_shard_and_all_in_one_shard() -> None:
    assert [s.regions for s in plan_shards(["b-x-1", "a-x-1"], 1)] == [("a-x-1",), ("b-x-1",)]
    assert plan_shards(SEVENTEEN, 34) == [Shard(0, tuple(sorted(SEVENTEEN)))]


def test_input_order_and_duplicates_do_not_change_the_plan() -> None:
    shuffled = list(reversed(SEVENTEEN)) + SEVENTEEN[:3]
    assert plan_shards(shuffled, 4) == plan_shards(SEVENTEEN, 4)


def test_regions_per_shard_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shard_count(3, 0)


def test_adding_one_region_moves_no_other_region() -> None:
    before = plan_shards(SEVENTEEN, 4)
    after = plan_shards([*SEVENTEEN, "af-south-1"], 4, before)
    assert moved_regions(before, after) == set()
    assert len(after) == len(before)


def test_adding_a_shard_takes_only_what_the_new_shard_needs() -> None:
    before = plan_shards(SEVENTEEN[:16], 4)  # four full shards
    after = plan_shards([*SEVENTEEN[:16], "af-south-1"], 4, before)
    assert len(after) == 5
    # 17 regions over 5 shards: the new shard holds 3, of which 1 is new: 2 moved.
    assert len(moved_regions(before, after)) == 2


def test_removing_a_region_moves_nothing_else_while_the_shard_count_holds() -> None:
    before = plan_shards(SEVENTEEN[:15], 4)
    after = plan_shards(SEVENTEEN[1:15], 4, before)
    assert len(after) == len(before) == 4
    assert moved_regions(before, after) == set()


def test_shards_beyond_the_new_count_are_dropped() -> None:
    before = plan_shards(SEVENTEEN, 2)
    after = plan_shards(SEVENTEEN, 6, before)
    assert [s.index for s in after] == [0, 1, 2]
    assert sorted(r for s in after for r in s.regions) == sorted(SEVENTEEN)


def test_a_stale_previous_plan_never_duplicates_a_region() -> None:
    previous = [Shard(0, ("us-east-1", "eu-west-1")), Shard(1, ("us-east-1", "gone-away-1"))]
    plan = plan_shards(["us-east-1", "eu-west-1", "sa-east-1"], 2, previous)
    flat = [r for s in plan for r in s.regions]
    assert sorted(flat) == ["eu-west-1", "sa-east-1", "us-east-1"]


@settings(max_examples=200, deadline=None)
@given(regions=regions_st, per_shard=st.integers(1, 34))
def test_plans_are_balanced_partitions(regions: list[str], per_shard: int) -> None:
    plan = plan_shards(regions, per_shard)
    sizes = [len(s.regions) for s in plan]
    assert [s.index for s in plan] == list(range(len(plan)))
    assert len(plan) == shard_count(len(regions), per_shard)
    assert sorted(r for s in plan for r in s.regions) == sorted(regions)
    if sizes:
        assert max(sizes) - min(sizes) <= 1 and max(sizes) <= per_shard
    assert plan_shards(list(reversed(regions)), per_shard) == plan


@settings(max_examples=200, deadline=None)
@given(regions=regions_st.filter(bool), per_shard=st.integers(1, 34), data=st.data())
def test_adding_one_region_moves_few(
    regions: list[str], per_shard: int, data: st.DataObject
) -> None:
    new = data.draw(st.from_regex(r"zz-[a-z]{4,9}-[1-9]", fullmatch=True))
    before = plan_shards(regions, per_shard)
    after = plan_shards([*regions, new], per_shard, before)
    moved = moved_regions(before, after)
    if len(after) == len(before):
        assert moved == set()
    else:  # a new shard: it takes at most its own size from the others
        assert len(moved) <= max(len(s.regions) for s in after)
    sizes = [len(s.regions) for s in after]
    assert max(sizes) - min(sizes) <= 1


@settings(max_examples=100, deadline=None)
@given(regions=regions_st, per_shard=st.integers(1, 34), other=st.integers(1, 34))
def test_replanning_with_any_previous_plan_stays_balanced(
    regions: list[str], per_shard: int, other: int
) -> None:
    previous = plan_shards(regions[::2], other)
    plan = plan_shards(regions, per_shard, previous)
    assert sorted(r for s in plan for r in s.regions) == sorted(regions)
    sizes = [len(s.regions) for s in plan]
    if sizes:
        assert max(sizes) - min(sizes) <= 1 and max(sizes) <= per_shard
    assert plan_shards(regions, per_shard, previous) == plan
