"""The automatic-sync policy: the mode in effect, the limits by time of day, the nightly slot."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from gpb.handlers.auto_sync import AutoMode, AutoSyncPolicy, NightlyWindow
from gpb.handlers.school_hours import SchoolHours

ZONE = ZoneInfo("America/Chicago")


def policy(window: str = "18:00-06:00", **overrides: object) -> AutoSyncPolicy:
    values: dict[str, object] = {
        "allowed": frozenset({AutoMode.OFF, AutoMode.NIGHTLY}),
        "default": AutoMode.OFF,
        "delay": timedelta(minutes=10),
        "window": NightlyWindow.parse(window),
        "zone": ZONE,
        "school": SchoolHours.parse("mon-fri", "07:00-17:00", ZONE),
        "max_runs": 2,
        "sis_concurrency": 5,
        "max_failures": 3,
    }
    return AutoSyncPolicy(**(values | overrides))  # type: ignore[arg-type]


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def test_a_mode_the_district_no_longer_allows_falls_back_to_the_default() -> None:
    rules = policy()
    assert rules.effective(AutoMode.NIGHTLY) is AutoMode.NIGHTLY
    assert rules.effective(AutoMode.AFTER_CHANGE) is AutoMode.OFF
    assert rules.effective(None) is AutoMode.OFF


def test_limits_are_serial_in_school_hours_and_share_ic_off_peak() -> None:
    rules = policy()
    assert (rules.run_limit(local(1, 10)), rules.concurrency(local(1, 10))) == (1, 1)
    assert (rules.run_limit(local(1, 20)), rules.concurrency(local(1, 20))) == (2, 2)
    assert (rules.run_limit(local(5, 10)), rules.concurrency(local(5, 10))) == (2, 2)  # Saturday
    many = policy(max_runs=8)
    assert many.concurrency(local(1, 20)) == 1  # never below one call


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [
        ("18:00-06:00", [time(18), time(23, 59), time(0), time(5, 59)], [time(6), time(12)]),
        ("01:00-04:00", [time(1), time(3, 59)], [time(0, 59), time(4), time(23)]),
    ],
)
def test_a_window_may_cross_midnight(window: str, inside: list[time], outside: list[time]) -> None:
    parsed = NightlyWindow.parse(window)
    assert all(parsed.contains(t) for t in inside)
    assert not any(parsed.contains(t) for t in outside)
    assert str(parsed) == window


def test_windows_that_mean_nothing_are_refused() -> None:
    for text in ("18:00", "06:00-06:00", "25:00-06:00"):
        with pytest.raises(ValueError):
            NightlyWindow.parse(text)


def test_the_nightly_slot_fires_in_its_own_night_only() -> None:
    rules = policy()
    at = time(2, 30)  # after midnight, in the window opened the evening before
    assert rules.nightly_due(at, None, local(1, 23)) is None  # not yet
    slot = rules.nightly_due(at, None, local(2, 3))
    assert slot == local(2, 2, 30)
    assert rules.nightly_due(at, slot, local(2, 4)) is None  # taken
    assert rules.nightly_due(at, slot, local(2, 12)) is None  # outside the window
    # missed the whole night: the next evening does not fire the old slot
    assert rules.nightly_due(at, None, local(2, 19)) is None
    assert rules.nightly_due(at, slot, local(3, 2, 31)) == local(3, 2, 30)


def test_the_nightly_slot_keeps_local_time_across_a_daylight_saving_change() -> None:
    rules = policy()
    # 1 November 2026: Chicago goes back from CDT to CST at 02:00
    before = rules.nightly_due(time(22), None, datetime(2026, 10, 31, 22, 5, tzinfo=ZONE))
    after = rules.nightly_due(time(22), before, datetime(2026, 11, 1, 22, 5, tzinfo=ZONE))
    assert before is not None and after is not None
    assert after.astimezone(ZONE).hour == 22 and after - before == timedelta(hours=25)
