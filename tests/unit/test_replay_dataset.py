"""Loading replay datasets and querying windows of recorded prices."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spotter.replay.dataset import DatasetError, load_dataset

T0 = datetime(2022, 5, 31, 12, 0, tzinfo=UTC)


def _line(**overrides: object) -> str:
    item = {
        "Region": "us-east-1",
        "AvailabilityZoneId": "use1-az4",
        "InstanceType": "m5.large",
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": "0.041600",
        "Timestamp": "2022-05-31T12:00:00+00:00",
    }
    item.update(overrides)
    return json.dumps({k: v for k, v in item.items() if v is not None})


def _write(path: Path, lines: list[str], *, gz: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_bundled_dataset_is_the_recorded_window() -> None:
    data = load_dataset()
    assert data.records == 33362
    assert len(data.regions) == 17 and data.regions == tuple(sorted(data.regions))
    assert len(data.instance_types) == 509
    assert data.products == ("Linux/UNIX", "Red Hat Enterprise Linux", "SUSE Linux", "Windows")
    assert data.start == datetime(2022, 5, 31, 18, 20, 41, tzinfo=UTC)
    assert data.end == datetime(2022, 5, 31, 23, 59, 47, tzinfo=UTC)


def test_bundled_records_carry_zone_names_and_ids() -> None:
    data = load_dataset()
    for region in data.regions:
        zones = data.zones(region)
        assert zones and all(zone_id for zone_id in zones.values())
        assert all(name.startswith(region) for name in zones)
    assert load_dataset().zones("us-east-2")["us-east-2a"] == "use2-az1"


def test_plain_and_gzip_load_the_same(tmp_path: Path) -> None:
    lines = [_line(), _line(AvailabilityZoneId="use1-az2", SpotPrice="0.042400")]
    plain = load_dataset(_write(tmp_path / "a.jsonl", lines))
    packed = load_dataset(_write(tmp_path / "b.jsonl.gz", lines, gz=True))
    assert plain.query("us-east-1") == packed.query("us-east-1")
    assert plain.records == packed.records == 2


def test_gzip_is_detected_by_magic_bytes_not_extension(tmp_path: Path) -> None:
    data = load_dataset(_write(tmp_path / "looks-plain.jsonl", [_line()], gz=True))
    assert data.records == 1


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    data = load_dataset(_write(tmp_path / "d.jsonl", ["", _line(), "   ", ""]))
    assert data.records == 1


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (_line(SpotPrice=None), "SpotPrice"),
        (_line(SpotPrice="0"), "spot price"),
        (_line(SpotPrice="abc"), "spot price"),
        (_line(Timestamp="yesterday"), "timestamp"),
        (_line(ProductDescription="BeOS"), "ProductDescription"),
        (_line(Region="Mars"), "Region"),
        (_line(InstanceType="m5..large"), "InstanceType"),
        (_line(AvailabilityZoneId=None), "neither AvailabilityZone nor AvailabilityZoneId"),
        (_line(AvailabilityZoneId="zzz1-az9"), "no known name"),
        (_line(AvailabilityZoneId="usw2-az1"), "is in us-west-2"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, bad: str, why: str) -> None:
    path = _write(tmp_path / "bad.jsonl", [_line(), "", bad])
    with pytest.raises(DatasetError) as caught:
        load_dataset(path)
    message = str(caught.value)
    assert str(path) in message and "line 3" in message and why in message


def test_a_bad_line_in_gzip_is_named_too(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl.gz", [_line(), _line(SpotPrice="-1")], gz=True)
    with pytest.raises(DatasetError, match=r"bad\.jsonl\.gz: line 2: .*spot price"):
        load_dataset(path)


def test_empty_missing_and_broken_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no records"):
        load_dataset(_write(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(DatasetError, match="cannot read"):
        load_dataset(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(_line().encode())[:20])
    with pytest.raises(DatasetError, match="broken gzip"):
        load_dataset(broken)


def test_zone_name_only_records_get_the_bundled_zone_id(tmp_path: Path) -> None:
    lines = [
        _line(AvailabilityZoneId=None, AvailabilityZone="us-east-1a"),
        _line(AvailabilityZoneId=None, AvailabilityZone="us-east-1-bos-1a"),
    ]
    data = load_dataset(_write(tmp_path / "names.jsonl", lines))
    assert data.zones("us-east-1") == {"us-east-1a": "use1-az6", "us-east-1-bos-1a": None}


def _series(tmp_path: Path) -> Path:
    """One (type, zone, product) changing at 10:00, 11:00 and 12:00, and a Windows series."""
    lines = [
        _line(SpotPrice="0.010000", Timestamp="2022-05-31T10:00:00Z"),
        _line(SpotPrice="0.011000", Timestamp="2022-05-31T11:00:00Z"),
        _line(SpotPrice="0.012000", Timestamp="2022-05-31T12:00:00Z"),
        _line(ProductDescription="Windows", SpotPrice="0.1", Timestamp="2022-05-31T09:00:00Z"),
    ]
    return _write(tmp_path / "series.jsonl", lines)


def _prices(records: list) -> list[str]:
    return [r.spot_price for r in records]


def test_a_window_includes_the_last_change_before_its_start(tmp_path: Path) -> None:
    data = load_dataset(_series(tmp_path))
    linux = {"Linux/UNIX"}
    start, end = T0.replace(hour=10, minute=30), T0.replace(hour=11, minute=30)
    assert _prices(data.query("us-east-1", product_descriptions=linux, start=start, end=end)) == [
        "0.011000",
        "0.010000",
    ]


def test_a_change_exactly_at_the_start_replaces_the_one_before(tmp_path: Path) -> None:
    data = load_dataset(_series(tmp_path))
    found = data.query("us-east-1", product_descriptions={"Linux/UNIX"}, start=T0.replace(hour=11))
    assert _prices(found) == ["0.012000", "0.011000"]


def test_a_start_after_every_change_returns_the_price_in_force(tmp_path: Path) -> None:
    data = load_dataset(_series(tmp_path))
    found = data.query("us-east-1", start=T0.replace(hour=13))
    assert sorted(_prices(found)) == ["0.012000", "0.1"]


def test_an_end_before_every_change_returns_nothing_for_that_series(tmp_path: Path) -> None:
    data = load_dataset(_series(tmp_path))
    found = data.query("us-east-1", end=T0.replace(hour=9, minute=30))
    assert _prices(found) == ["0.1"]


def test_records_come_newest_first_with_a_deterministic_tie_order() -> None:
    data = load_dataset()
    found = data.query("us-east-1")
    stamps = [r.timestamp for r in found]
    assert stamps == sorted(stamps, reverse=True)
    assert found == data.query("us-east-1")
    same_moment = [r for r in found if r.timestamp == found[0].timestamp]
    keys = [(r.instance_type, r.zone, r.product_description) for r in same_moment]
    assert keys == sorted(keys)


def test_query_restricts_by_type_product_zone_and_zone_id() -> None:
    data = load_dataset()
    found = data.query(
        "sa-east-1",
        instance_types={"c5ad.16xlarge"},
        product_descriptions={"Linux/UNIX"},
        zones={"sa-east-1a"},
    )
    assert _prices(found) == ["1.358800", "1.347400", "1.358800"]
    by_id = data.query("sa-east-1", instance_types={"c5ad.16xlarge"}, zone_ids={"sae1-az1"})
    assert by_id == data.query("sa-east-1", instance_types={"c5ad.16xlarge"}, zones={"sa-east-1a"})
    assert {r.zone for r in by_id} == {"sa-east-1a"}
    assert data.query("us-east-1", instance_types={"no.such"}) == []
    assert data.query("af-south-1") == []
