"""School hours: parsed from the settings; school time counted across nights, weekends, DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from gpb.handlers.school_hours import SchoolHours

CHICAGO = ZoneInfo("America/Chicago")
WEEKDAYS = SchoolHours.parse("mon-fri", "07:00-17:00", CHICAGO)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)  # type: ignore[misc]


def test_days_and_hours_are_parsed() -> None:
    assert WEEKDAYS.days == frozenset(range(5))
    assert (WEEKDAYS.start, WEEKDAYS.end) == (time(7), time(17))
    assert SchoolHours.parse("mon, wed,fri", "08:30-15:00", UTC).days == frozenset({0, 2, 4})
    assert SchoolHours.parse("sat-sun", "10:00-12:00", UTC).days == frozenset({5, 6})


@pytest.mark.parametrize(
    ("days", "hours"),
    [("weekdays", "07:00-17:00"), ("fri-mon", "07:00-17:00"), ("mon", "17:00-07:00")],
)
def test_nonsense_is_refused(days: str, hours: str) -> None:
    with pytest.raises(ValueError):
        SchoolHours.parse(days, hours, UTC)


def test_a_moment_is_in_school_hours_on_a_school_day_only() -> None:
    assert WEEKDAYS.contains(local(2026, 11, 2, 9, 0))  # a Monday
    assert not WEEKDAYS.contains(local(2026, 11, 2, 17, 0))  # the end is not included
    assert not WEEKDAYS.contains(local(2026, 11, 2, 6, 59))
    assert not WEEKDAYS.contains(local(2026, 11, 7, 10, 0))  # a Saturday
    assert WEEKDAYS.contains(local(2026, 11, 2, 9, 0).astimezone(UTC))  # any zone is fine


def test_school_time_skips_nights_and_weekends() -> None:
    friday_afternoon, monday_morning = local(2026, 11, 6, 16, 30), local(2026, 11, 9, 7, 45)
    assert WEEKDAYS.elapsed(friday_afternoon, monday_morning) == timedelta(minutes=75)
    assert WEEKDAYS.elapsed(local(2026, 11, 2, 20), local(2026, 11, 3, 6)) == timedelta()
    assert WEEKDAYS.elapsed(monday_morning, friday_afternoon) == timedelta()


def test_a_day_that_changes_the_clocks_counts_its_real_hours() -> None:
    # Chicago fell back at 02:00 on Sunday 2026-11-01: 00:30 to 03:30 on the wall lasted four
    # real hours that night, and three the night after.
    everyday = SchoolHours.parse("mon-sun", "00:30-03:30", CHICAGO)
    assert everyday.elapsed(local(2026, 11, 1, 0), local(2026, 11, 1, 4)) == timedelta(hours=4)
    assert everyday.elapsed(local(2026, 11, 2, 0), local(2026, 11, 2, 4)) == timedelta(hours=3)


def test_long_silences_are_counted_without_walking_years() -> None:
    far = WEEKDAYS.elapsed(local(2020, 1, 1, 8), local(2026, 11, 9, 8))
    assert timedelta(hours=90) <= far <= timedelta(hours=110)  # two weeks of school days at most
