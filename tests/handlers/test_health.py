"""The health job: each condition opens one admin alert, keeps it current, and resolves it by
itself — judged with a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gpb.handlers.health import (
    ADMIN_ALERT,
    CANVAS_AUTH_FAILED,
    DISK_LOW,
    EVENTS_FAILING,
    EVENTS_SILENT,
    RUNS_FAILING,
    SIS_AUTH_FAILED,
    TOKENS_GUESSED,
    AdminAlert,
    AdminAlertOpened,
    AdminAlertResolved,
    AdminAlertUpdated,
    AdminNotice,
    DiskSpace,
    FinishedRun,
    HealthJob,
    HealthSettings,
)
from gpb.handlers.school_hours import SchoolHours
from gpb.handlers.syncs import RunStatus

ZONE = ZoneInfo("America/Chicago")
GB = 1024**3
SETTINGS = HealthSettings(
    school=SchoolHours.parse("mon-fri", "07:00-17:00", ZONE),
    silence=timedelta(minutes=60),
    failures_threshold=20,
    failures_window=timedelta(minutes=15),
    auth_window=timedelta(minutes=60),
    failed_run_courses=3,
    failed_runs_window=timedelta(hours=24),
    disk_min_free_percent=10.0,
    disk_min_free_bytes=1 * GB,
    channels=("webhook",),
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in November 2026 in the district's zone: the 2nd is a Monday, the 7th a Saturday."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ZONE)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Readings:
    def __init__(self) -> None:
        self.last: datetime | None = None
        self.failed = 0
        self.auth_failures = 0
        self.codes: dict[str, int] = {}
        self.runs: list[FinishedRun] = []
        self.disk: DiskSpace | None = DiskSpace(100 * GB, 50 * GB)

    async def last_event_received(self) -> datetime | None:
        return self.last

    async def failed_event_count(self, since: datetime) -> int:
        return self.failed

    async def failing_event_codes(self, since: datetime) -> dict[str, int]:
        return dict(self.codes)

    async def finished_runs(self, since: datetime) -> list[FinishedRun]:
        return [run for run in self.runs if run.finished_at >= since]

    async def auth_failure_count(self, since: datetime) -> int:
        return self.auth_failures

    def disk_space(self) -> DiskSpace | None:
        return self.disk


class Alerts:
    """The admin alerts and their outbox, in memory: what the store's writers do."""

    def __init__(self) -> None:
        self.rows: dict[str, AdminAlert] = {}
        self.notices: list[tuple[str, str, str]] = []  # (change, code, channel)

    async def admin_alerts(self, state: str | None = None, limit: int = 100) -> list[AdminAlert]:
        rows = [a for a in self.rows.values() if state in (None, a.state)]
        return sorted(rows, key=lambda a: -int(a.id))[:limit]

    async def apply(self, changes: Sequence[object], *, linger: float = 0.0) -> None:
        for change in changes:
            match change:
                case AdminAlertOpened():
                    alert_id = str(len(self.rows) + 1)
                    self.rows[alert_id] = AdminAlert(
                        alert_id,
                        change.code,
                        change.message,
                        change.fix,
                        change.details,
                        "open",
                        change.at,
                        change.at,
                    )
                    self._notify("opened", self.rows[alert_id], change.channels)
                case AdminAlertUpdated():
                    self.rows[change.alert_id] = replace(
                        self.rows[change.alert_id],
                        message=change.message,
                        details=change.details,
                        updated_at=change.at,
                    )
                case AdminAlertResolved():
                    resolved = replace(
                        self.rows[change.alert_id], state="resolved", resolved_at=change.at
                    )
                    self.rows[change.alert_id] = resolved
                    self._notify("resolved", resolved, change.channels)

    def _notify(self, change: str, alert: AdminAlert, channels: tuple[str, ...]) -> None:
        self.notices.extend((change, alert.code, channel) for channel in channels)

    def open_codes(self) -> set[str]:
        return {a.code for a in self.rows.values() if a.state == "open"}

    def current(self, code: str) -> AdminAlert:
        (alert,) = [a for a in self.rows.values() if a.code == code and a.state == "open"]
        return alert


class Env:
    def __init__(self, start: datetime) -> None:
        self.clock = Clock(start)
        self.readings = Readings()
        self.readings.last = start
        self.alerts = Alerts()
        self.woken = 0
        self.events_flow = True  # an event arrives just before each check, unless a test says not
        self.job = HealthJob(
            self.readings,
            self.alerts,
            self.alerts,
            self.readings.disk_space,
            SETTINGS,
            on_change=self.wake,
            clock=self.clock,
        )

    def wake(self) -> None:
        self.woken += 1

    async def at(self, moment: datetime) -> set[str]:
        self.clock.now = moment
        if self.events_flow:
            self.readings.last = moment
        await self.job.run_once()
        return self.alerts.open_codes()


async def test_silence_opens_in_school_hours_and_resolves_when_an_event_arrives() -> None:
    env = Env(local(2, 7, 30))  # Monday
    env.events_flow = False
    env.readings.last = local(2, 7, 55)
    assert await env.at(local(2, 8, 50)) == set()
    assert await env.at(local(2, 9, 0)) == {EVENTS_SILENT}
    alert = env.alerts.current(EVENTS_SILENT)
    assert "60 minutes of school hours" in alert.message and "Data Services" in alert.fix
    assert alert.details["last_event_at"] == "2026-11-02T13:55:00.000Z"
    assert env.alerts.notices == [("opened", EVENTS_SILENT, "webhook")] and env.woken == 1

    assert await env.at(local(2, 9, 30)) == {EVENTS_SILENT}  # still silent: nothing new goes out
    assert len(env.alerts.notices) == 1

    env.readings.last = local(2, 9, 40)
    assert await env.at(local(2, 9, 41)) == set()
    assert env.alerts.notices[-1] == ("resolved", EVENTS_SILENT, "webhook")


async def test_silence_is_not_raised_at_night_nor_on_weekends() -> None:
    env = Env(local(6, 12))  # Friday noon
    env.events_flow = False
    env.readings.last = local(6, 16, 30)
    assert await env.at(local(6, 23)) == set()  # 30 minutes of school time
    assert await env.at(local(7, 11)) == set()  # Saturday
    assert await env.at(local(8, 16)) == set()  # Sunday
    assert await env.at(local(9, 7, 29)) == set()  # Monday: 59 minutes of school time
    assert await env.at(local(9, 7, 31)) == {EVENTS_SILENT}


async def test_silence_outside_school_hours_neither_opens_nor_resolves() -> None:
    env = Env(local(2, 8))
    env.events_flow = False
    assert await env.at(local(2, 20)) == set()  # nine silent school hours, but it is evening
    assert await env.at(local(3, 7, 1)) == {EVENTS_SILENT}  # and the next morning too
    assert await env.at(local(3, 18)) == {EVENTS_SILENT}  # the evening does not clear it
    assert [n[0] for n in env.alerts.notices] == ["opened"]


async def test_a_restart_starts_the_silence_over() -> None:
    env = Env(local(2, 10))  # gpb starts on Monday at 10; the last event came on Friday
    env.events_flow = False
    env.readings.last = datetime(2026, 10, 30, 12, tzinfo=ZONE)
    assert await env.at(local(2, 10, 59)) == set()
    assert await env.at(local(2, 11, 0)) == {EVENTS_SILENT}
    assert "gpb started" in env.alerts.current(EVENTS_SILENT).message


async def test_bulk_failures_open_at_the_threshold_update_and_resolve() -> None:
    env = Env(local(2, 9))
    env.readings.failed = 19
    assert await env.at(local(2, 9, 1)) == set()
    env.readings.failed = 20
    assert await env.at(local(2, 9, 2)) == {EVENTS_FAILING}
    assert env.alerts.current(EVENTS_FAILING).message.startswith("20 events failed or were")
    env.readings.failed = 45
    await env.at(local(2, 9, 3))
    assert env.alerts.current(EVENTS_FAILING).details == {"count": 45, "window_minutes": 15}
    assert len(env.alerts.notices) == 1  # an update goes out to nobody
    env.readings.failed = 3
    assert await env.at(local(2, 9, 20)) == set()
    assert [n[0] for n in env.alerts.notices] == ["opened", "resolved"]


async def test_failed_logins_in_bulk_open_an_alert_that_resolves_when_they_stop() -> None:
    env = Env(local(2, 9))
    env.readings.auth_failures = SETTINGS.auth_failures_threshold - 1
    assert await env.at(local(2, 9, 1)) == set()
    env.readings.auth_failures = SETTINGS.auth_failures_threshold
    assert await env.at(local(2, 9, 2)) == {TOKENS_GUESSED}
    alert = env.alerts.current(TOKENS_GUESSED)
    assert alert.message.startswith(f"{SETTINGS.auth_failures_threshold} logins or API calls")
    assert alert.title == "Failed logins in bulk"
    env.readings.auth_failures = 0
    assert await env.at(local(2, 9, 20)) == set()


async def test_refused_credentials_open_an_alert_per_system() -> None:
    env = Env(local(2, 9))
    env.readings.codes = {"CANVAS_AUTH_FAILED": 2, "CANVAS_UNAVAILABLE": 9}
    assert await env.at(local(2, 9, 1)) == {CANVAS_AUTH_FAILED}
    assert env.alerts.current(CANVAS_AUTH_FAILED).message == (
        "Canvas refuses gpb's credentials: 2 events are failing."
    )
    env.readings.runs = [
        FinishedRun("456", RunStatus.FAILED, frozenset({"SIS_AUTH_FAILED"}), local(2, 9, 5))
    ]
    assert await env.at(local(2, 9, 6)) == {CANVAS_AUTH_FAILED, SIS_AUTH_FAILED}
    assert "runs failed in course 456" in env.alerts.current(SIS_AUTH_FAILED).message
    env.readings.codes = {}  # the token was replaced and the events went through
    assert await env.at(local(2, 9, 30)) == {SIS_AUTH_FAILED}
    assert await env.at(local(2, 10, 6)) == set()  # the failed run is an hour old
    assert sorted(env.alerts.notices) == sorted(
        [
            ("opened", CANVAS_AUTH_FAILED, "webhook"),
            ("opened", SIS_AUTH_FAILED, "webhook"),
            ("resolved", CANVAS_AUTH_FAILED, "webhook"),
            ("resolved", SIS_AUTH_FAILED, "webhook"),
        ]
    )


def run(course_id: str, status: RunStatus, at: datetime) -> FinishedRun:
    return FinishedRun(course_id, status, frozenset(), at)


async def test_runs_failing_in_several_courses_open_one_alert() -> None:
    env = Env(local(2, 9))
    env.readings.runs = [
        run("456", RunStatus.FAILED, local(1, 12)),  # older than a day by the second check
        run("457", RunStatus.FAILED, local(2, 8)),
        run("458", RunStatus.SUCCEEDED, local(2, 8)),
    ]
    assert await env.at(local(2, 9)) == set()
    env.readings.runs.append(run("458", RunStatus.FAILED, local(2, 8, 30)))
    assert await env.at(local(2, 9, 1)) == {RUNS_FAILING}
    assert env.alerts.current(RUNS_FAILING).details["courses"] == ["456", "457", "458"]
    env.readings.runs.append(run("457", RunStatus.PARTIAL, local(2, 9, 30)))  # a teacher retried
    assert await env.at(local(2, 9, 31)) == set()
    env.readings.runs.append(run("459", RunStatus.FAILED, local(2, 9, 40)))
    assert await env.at(local(2, 13)) == set()  # 456 is out of the window now


async def test_a_disk_nearly_full_opens_an_alert_and_space_freed_resolves_it() -> None:
    env = Env(local(7, 3))  # any day, any hour
    env.readings.disk = DiskSpace(100 * GB, 9 * GB)
    assert await env.at(local(7, 3, 1)) == {DISK_LOW}
    assert env.alerts.current(DISK_LOW).message.startswith("The database's file system has 9216")
    env.readings.disk = None  # no reading: the alert stays as it is
    assert await env.at(local(7, 3, 2)) == {DISK_LOW}
    env.readings.disk = DiskSpace(100 * GB, 30 * GB)
    assert await env.at(local(7, 3, 3)) == set()
    env.readings.disk = DiskSpace(4 * GB, GB // 2)  # 12 % free, but less than 1 GB
    assert await env.at(local(7, 3, 4)) == {DISK_LOW}


def test_an_admin_notice_is_its_own_kind_of_payload() -> None:
    alert = AdminAlert(
        "3", DISK_LOW, "Only 2 GB free.", "Free some space.", {}, "open", local(2, 9), local(2, 9)
    )
    opened = AdminNotice("8", "webhook", 0, "opened", alert)
    assert opened.as_json()["type"] == ADMIN_ALERT == "gpb.admin_alert"
    assert opened.as_json()["alert"]["title"] == "The database's disk is nearly full"
    assert opened.message_id == "gpb-admin-notice-8"
    assert "Only 2 GB free." in opened.text and "Free some space." in opened.text
    resolved = replace(opened, change="resolved")
    assert resolved.subject.startswith("Grade passback: resolved:")


async def test_a_failing_round_does_not_stop_the_job() -> None:
    env = Env(local(2, 9))
    env.readings.failed = 50
    waits: list[float] = []

    async def broken(since: datetime) -> int:
        raise OSError("database is locked")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        vars(env.readings).pop("failed_event_count", None)  # the database answers again
        if len(waits) == 2:
            raise asyncio.CancelledError

    env.readings.failed_event_count = broken  # type: ignore[method-assign]
    job = HealthJob(
        env.readings,
        env.alerts,
        env.alerts,
        env.readings.disk_space,
        SETTINGS,
        clock=env.clock,
        sleep=sleep,
    )
    with pytest.raises(asyncio.CancelledError):
        await job.run()
    assert waits == [60.0, 60.0] and env.alerts.open_codes() == {EVENTS_FAILING}
