"""The replay clock: frozen or running, and how request times map onto recorded time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from spotter.replay.clock import ReplayClock

START = datetime(2022, 5, 31, 18, 20, 41, tzinfo=UTC)
END = datetime(2022, 5, 31, 23, 59, 47, tzinfo=UTC)
REAL = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class FakeTime:
    def __init__(self) -> None:
        self.seconds = 100.0

    def monotonic(self) -> float:
        return self.seconds

    def real(self) -> datetime:
        return REAL + timedelta(seconds=self.seconds - 100)


def test_frozen_by_default_at_the_end_of_the_recording() -> None:
    assert ReplayClock.for_dataset(START, END, None, None).now() == END


def test_frozen_at_a_chosen_moment() -> None:
    middle = START + timedelta(hours=2)
    assert ReplayClock.for_dataset(START, END, middle, None).now() == middle


def test_running_clock_starts_at_the_recording_start_and_scales_real_time() -> None:
    fake = FakeTime()
    clock = ReplayClock(origin=START, speed=60.0, monotonic=fake.monotonic, real_now=fake.real)
    assert clock.now() == START
    fake.seconds += 2.5
    assert clock.now() == START + timedelta(minutes=2.5)


def test_running_clock_from_a_chosen_origin() -> None:
    middle = START + timedelta(hours=1)
    assert ReplayClock.for_dataset(START, END, middle, 10.0).origin == middle


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ReplayClock(origin=START, speed=0)


def test_real_now_and_later_map_to_the_replayed_now() -> None:
    fake = FakeTime()
    clock = ReplayClock(origin=END, real_now=fake.real, monotonic=fake.monotonic)
    assert clock.map_time(REAL) == END
    assert clock.map_time(REAL + timedelta(days=3)) == END


def test_recent_real_times_keep_their_distance_from_now() -> None:
    fake = FakeTime()
    clock = ReplayClock(origin=END, real_now=fake.real, monotonic=fake.monotonic)
    assert clock.map_time(REAL - timedelta(hours=1)) == END - timedelta(hours=1)


def test_recorded_times_are_kept_but_never_after_now() -> None:
    fake = FakeTime()
    middle = START + timedelta(hours=2)
    clock = ReplayClock(origin=middle, real_now=fake.real, monotonic=fake.monotonic)
    assert clock.map_time(START) == START
    assert clock.map_time(END) == middle
    assert clock.map_time(datetime(2023, 1, 1, tzinfo=UTC)) == middle
