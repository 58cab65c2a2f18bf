"""Property tests of `model.parse_timestamp`: any text or datetime gives an aware UTC moment or a
ValueError — never another exception, since every caller (the fetcher's record check, the
dataset loader, the replay endpoint's parameters and CLI) catches ValueError only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from spotter.model import format_timestamp, parse_timestamp

offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(moments)
def test_formatted_moments_parse_back_to_the_second(moment: datetime) -> None:
    parsed = parse_timestamp(format_timestamp(moment))
    assert parsed == moment.replace(microsecond=0)
    assert parsed.tzinfo is UTC


@given(moments, offsets)
def test_any_offset_names_the_same_instant(moment: datetime, offset: timezone) -> None:
    text = moment.astimezone(offset).isoformat()
    assert parse_timestamp(text) == moment


@given(st.datetimes(timezones=st.one_of(st.none(), offsets)))
@example(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
@example(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))))
def test_any_datetime_is_utc_or_a_value_error(moment: datetime) -> None:
    try:
        parsed = parse_timestamp(moment)
    except ValueError:
        return
    assert parsed.tzinfo is UTC


@given(st.one_of(st.text(max_size=48), st.text(alphabet="0123456789-:T+Z. ", max_size=40)))
@example("0001-01-01T00:00:00+05:00")  # before anything datetime can hold, in UTC
@example("9999-12-31T23:59:59-05:00")  # after it
@example("2024-12-24T02:40:00Z")
def test_any_text_is_utc_or_a_value_error(text: str) -> None:
    try:
        parsed = parse_timestamp(text)
    except ValueError:
        return
    assert parsed.tzinfo is UTC


@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary()))
def test_what_is_neither_text_nor_datetime_is_a_value_error(value: object) -> None:
    try:
        parse_timestamp(value)
    except ValueError:
        return
    raise AssertionError(f"{value!r} was accepted")
