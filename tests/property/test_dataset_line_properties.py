"""Property tests of replay dataset lines: a well-formed record parses to what it says; any other
line is a ValueError; and a file with one bad line fails to load with a DatasetError that names
the file and the line number — never another exception."""

from __future__ import annotations

import contextlib
import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from spotter.replay.catalog import load_catalog
from spotter.replay.dataset import DatasetError, load_dataset, parse_record

CATALOG = load_catalog()
ZONES = [(z.region, z.name, z.zone_id) for r in CATALOG.regions for z in CATALOG.zones_of(r.name)]
PRODUCTS = ["Linux/UNIX", "Linux/UNIX (Amazon VPC)", "Windows", "SUSE Linux"]

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(), inner)),
    max_leaves=8,
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, str]:
    region, zone, zone_id = draw(st.sampled_from(ZONES))
    price = draw(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999"), places=4))
    moment = draw(
        st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 1, 1))
    ).replace(microsecond=0, tzinfo=UTC)
    record = {
        "Region": region,
        "InstanceType": draw(st.sampled_from(["t3.micro", "m5.large", "u-6tb1.metal"])),
        "ProductDescription": draw(st.sampled_from(PRODUCTS)),
        "SpotPrice": f"{price:.6f}",
        "Timestamp": moment.isoformat(),
    }
    shape = draw(st.sampled_from(["both", "name", "id"]))
    if shape != "id":
        record["AvailabilityZone"] = zone
    if shape != "name":
        record["AvailabilityZoneId"] = zone_id
    return record


@given(records())
def test_a_well_formed_line_says_what_it_holds(record: dict[str, str]) -> None:
    parsed = parse_record(json.dumps(record), CATALOG)
    assert (parsed.region, parsed.instance_type) == (record["Region"], record["InstanceType"])
    assert parsed.spot_price == record["SpotPrice"]
    assert parsed.timestamp == datetime.fromisoformat(record["Timestamp"])
    zone = CATALOG.zone_by_id(parsed.zone_id or "")
    assert zone is not None and (zone.name, zone.region) == (parsed.zone, parsed.region)


@given(records(), st.sampled_from(
    ["Region", "InstanceType", "ProductDescription", "SpotPrice", "Timestamp", "AvailabilityZone"]
), json_values)
def test_a_field_of_any_other_value_is_valid_or_a_value_error(
    record: dict[str, str], key: str, value: object
) -> None:
    record = {**record, key: value}
    with contextlib.suppress(ValueError):
        parse_record(json.dumps(record), CATALOG)


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), json_values.map(json.dumps)))
@example(b'{"Region": "us-east-1"')
@example(b"\xff\xfe")
@example("[1, 2]")
def test_any_line_is_a_record_or_a_value_error(line: bytes | str) -> None:
    with contextlib.suppress(ValueError):
        parse_record(line, CATALOG)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(records(), min_size=1, max_size=5),
    st.integers(min_value=0, max_value=5),
    st.sampled_from(['{"Region": 1}', "not json", '{"SpotPrice": "1E-999999"}', "[]"]),
    st.booleans(),
)
def test_a_bad_line_is_named_by_file_and_number(
    tmp_path: Path, good: list[dict[str, str]], at: int, bad: str, gzipped: bool
) -> None:
    lines = [json.dumps(r) for r in good]
    at = min(at, len(lines))
    lines.insert(at, bad)
    text = ("\n".join(lines) + "\n").encode()
    path = tmp_path / ("data.jsonl.gz" if gzipped else "data.jsonl")
    path.write_bytes(gzip.compress(text) if gzipped else text)
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(err.value).startswith(f"{path}: line {at + 1}: ")


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(min_size=1, max_size=300))
def test_any_file_loads_or_fails_naming_itself(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "any.jsonl"
    path.write_bytes(raw)
    try:
        load_dataset(path)
    except DatasetError as err:
        assert str(err).startswith(f"{path}: ")
