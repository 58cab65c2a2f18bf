"""The bundled data files: small, documented, and consistent with each other."""

from __future__ import annotations

import json
from importlib import resources

from spotter.model import DEFAULT_INSTANCE_TYPES
from spotter.replay.catalog import load_catalog
from spotter.replay.dataset import DEFAULT_DATASET, load_dataset

DATA = resources.files("spotter.replay").joinpath("data")


def test_the_bundle_is_under_two_megabytes_and_every_file_is_documented() -> None:
    files = [f for f in DATA.iterdir() if f.is_file()]
    assert sum(len(f.read_bytes()) for f in files) < 2_000_000
    readme = DATA.joinpath("README.md").read_text("utf-8")
    for name in (DEFAULT_DATASET, "regions.json", "zones.json"):
        assert f"`{name}`" in readme
    assert "Licence" in readme and "recorded real data" in readme


def test_the_catalog_has_the_34_commercial_regions_and_their_named_zones() -> None:
    catalog = load_catalog()
    assert len(catalog.regions) == 34
    assert {"us-east-1", "af-south-1", "mx-central-1"} <= catalog.region_names
    assert not any(r.startswith(("cn-", "us-gov-", "eusc-")) for r in catalog.region_names)
    for region in catalog.regions:
        named = {z.zone_id for z in catalog.zones_of(region.name)}
        assert named <= set(region.zone_ids)
    assert catalog.zone_by_name("us-east-2", "us-east-2b").zone_id == "use2-az2"  # type: ignore[union-attr]


def test_every_recorded_zone_id_has_a_name_in_its_region() -> None:
    catalog, data = load_catalog(), load_dataset()
    for region in data.regions:
        for name, zone_id in data.zones(region).items():
            zone = catalog.zone_by_id(zone_id or "")
            assert zone is not None and zone.region == region and zone.name == name


def test_the_readme_says_which_default_types_have_records() -> None:
    readme = DATA.joinpath("README.md").read_text("utf-8")
    have = set(load_dataset().instance_types)
    missing = [t for t in DEFAULT_INSTANCE_TYPES if t not in have]
    assert missing == ["trn1.2xlarge", "hpc6a.48xlarge"]
    total = len(DEFAULT_INSTANCE_TYPES)
    assert f"{total - len(missing)} of the {total} have records" in readme
    for name in missing:
        assert f"| `{name}` | **0** |" in readme


def test_regions_json_names_its_source() -> None:
    source = json.loads(DATA.joinpath("regions.json").read_text("utf-8"))["source"]
    assert source["repo"] == "getmoto/moto" and len(source["commit"]) == 40
