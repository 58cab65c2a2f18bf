"""Reading a SpotWatch object: defaults, durations, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from spotter.operator.watch import SpecError, Watch, parse_interval


def body(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "w", "namespace": "ns", "uid": "u-1", "generation": 2},
        "spec": {"instanceTypes": ["t3.micro"], **spec},
    }


def test_defaults_match_the_crd() -> None:
    watch = Watch.from_body(body())
    assert watch.products == ("Linux/UNIX",)
    assert watch.regions == ()
    assert watch.interval == 300
    assert watch.regions_per_shard == 4
    assert watch.paused is False
    assert (watch.name, watch.namespace, watch.uid, watch.generation) == ("w", "ns", "u-1", 2)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("300s", 300), ("1h30m", 5400), ("1.5h", 5400), ("24h", 86400), ("90s", 90)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"instanceTypes": []}, "spec.instanceTypes"),
        ({"instanceTypes": ["T3.MICRO"]}, "spec.instanceTypes"),
        ({"instanceTypes": None}, "spec.instanceTypes"),
        ({"products": ["Linux"]}, "spec.products"),
        ({"products": []}, "spec.products"),
        ({"regions": ["US-EAST-1"]}, "spec.regions"),
        ({"interval": "10s"}, "spec.interval"),
        ({"interval": "25h"}, "spec.interval"),
        ({"interval": "5 minutes"}, "spec.interval"),
        ({"regionsPerShard": 0}, "spec.regionsPerShard"),
        ({"regionsPerShard": True}, "spec.regionsPerShard"),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        Watch.from_body(body(**spec))


def test_regions_are_sorted_and_types_deduplicated_in_order() -> None:
    watch = Watch.from_body(body(instanceTypes=["m5.large", "t3.micro", "m5.large"],
                                 regions=["us-west-2", "eu-west-1"]))
    assert watch.instance_types == ("m5.large", "t3.micro")
    assert watch.regions == ("eu-west-1", "us-west-2")


def test_a_name_too_long_for_child_names_is_refused() -> None:
    long = body()
    long["metadata"]["name"] = "x" * 41
    with pytest.raises(SpecError, match=r"metadata\.name"):
        Watch.from_body(long)
