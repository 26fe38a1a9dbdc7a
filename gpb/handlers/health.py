"""Admin alerts: what the district's admins must hear of before the teachers notice it.

A health job judges, every minute, conditions that no single event or run shows:

- `EVENTS_SILENT`: no event arrived for `GPB_EVENTS_SILENCE_MINUTES` of school hours (Canvas may
  have disabled the subscription);
- `EVENTS_FAILING`: at least `GPB_EVENT_FAILURES_ALERT_COUNT` events failed or were refused in the
  last `GPB_EVENT_FAILURES_WINDOW_MINUTES`;
- `SIS_AUTH_FAILED`, `CANVAS_AUTH_FAILED`: an event is failing, or a run failed in the last
  `GPB_AUTH_FAILURES_WINDOW_MINUTES`, because IC or Canvas refused gpb's credentials;
- `RUNS_FAILING`: the latest run failed in at least `GPB_FAILED_RUN_COURSES_ALERT` courses over
  the last `GPB_FAILED_RUNS_WINDOW_HOURS`;
- `TOKENS_GUESSED`: at least `GPB_AUTH_FAILURES_ALERT_COUNT` logins and bearer checks failed in
  the last `GPB_EVENT_FAILURES_WINDOW_MINUTES` (someone may be guessing tokens);
- `DISK_LOW`: the database's file system has less free space than `GPB_DISK_MIN_FREE_PERCENT` or
  `GPB_DISK_MIN_FREE_MB`.

Each is one admin alert while it holds: opened once, its message kept current, resolved by itself
when the condition clears. Opening and resolving go out through the notifiers (a webhook payload
of type `gpb.admin_alert`, Canvas inbox messages to the admins).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gpb.handlers.claims import ALONE, Turns
from gpb.handlers.periodic import Every, run_periodically
from gpb.handlers.ports import AdminAlertStore, ChangeSink, HealthReadings
from gpb.handlers.school_hours import SchoolHours
from gpb.handlers.syncs import RunStatus
from gpb.handlers.timefmt import iso, utcnow

if TYPE_CHECKING:  # the admin alerts' changes, defined here, are members of the union
    from gpb.handlers.changes import Change

log = logging.getLogger("gpb.health")

ADMIN_ALERT = "gpb.admin_alert"  # the webhook payload's type; teachers' notices have their own

EVENTS_SILENT = "EVENTS_SILENT"
EVENTS_FAILING = "EVENTS_FAILING"
SIS_AUTH_FAILED = "SIS_AUTH_FAILED"
CANVAS_AUTH_FAILED = "CANVAS_AUTH_FAILED"
RUNS_FAILING = "RUNS_FAILING"
DISK_LOW = "DISK_LOW"
TOKENS_GUESSED = "TOKENS_GUESSED"

TITLES = {
    EVENTS_SILENT: "No events from Canvas",
    EVENTS_FAILING: "Events failing or refused in bulk",
    SIS_AUTH_FAILED: "Infinite Campus refuses gpb's credentials",
    CANVAS_AUTH_FAILED: "Canvas refuses gpb's token",
    RUNS_FAILING: "Sync runs failing in several courses",
    DISK_LOW: "The database's disk is nearly full",
    TOKENS_GUESSED: "Failed logins in bulk",
}

MIB = 1024 * 1024
LISTED_COURSES = 10  # a message names this many courses at most; details hold them all


@dataclass(frozen=True)
class AdminAlert:
    id: str
    code: str
    message: str
    fix: str
    details: dict[str, Any]
    state: str  # "open" | "resolved"
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None

    @property
    def title(self) -> str:
        return TITLES.get(self.code, self.code)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "title": self.title,
            "message": self.message,
            "fix": self.fix,
            "details": self.details,
            "state": self.state,
            "opened_at": iso(self.opened_at),
            "updated_at": iso(self.updated_at),
            "resolved_at": iso(self.resolved_at),
        }


# Changes, applied by the store in one transaction: an alert and its notices, or neither.


@dataclass(frozen=True)
class AdminAlertOpened:
    code: str
    message: str
    fix: str
    details: dict[str, Any]
    channels: tuple[str, ...]  # a notice for each
    at: datetime


@dataclass(frozen=True)
class AdminAlertUpdated:
    alert_id: str
    message: str
    fix: str
    details: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class AdminAlertResolved:
    alert_id: str
    channels: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class AdminNotice:
    """An admin alert's opening or resolution, for one channel."""

    id: str
    channel: str
    attempts: int
    change: str  # "opened" | "resolved"
    alert: AdminAlert  # as it was at that change

    @property
    def message_id(self) -> str:
        return f"gpb-admin-notice-{self.id}"

    def as_json(self) -> dict[str, Any]:
        return {"type": ADMIN_ALERT, "change": self.change, "alert": self.alert.as_json()}

    @property
    def subject(self) -> str:
        if self.change == "resolved":
            return f"Grade passback: resolved: {self.alert.title}"
        return f"Grade passback needs an admin: {self.alert.title}"

    @property
    def text(self) -> str:
        if self.change == "resolved":
            return f"{self.subject}\n\nIt was: {self.alert.message}"
        return f"{self.subject}\n\n{self.alert.message}\n\nWhat to do: {self.alert.fix}"


@dataclass(frozen=True)
class FinishedRun:
    course_id: str
    status: RunStatus
    error_codes: frozenset[str]  # a failed run's (a refused credential fails the whole run)
    finished_at: datetime


@dataclass(frozen=True)
class DiskSpace:
    total_bytes: int
    free_bytes: int


DiskProbe = Callable[[], DiskSpace | None]  # None: no reading (no local database file)


@dataclass(frozen=True)
class HealthSettings:
    school: SchoolHours
    silence: timedelta
    failures_threshold: int
    failures_window: timedelta
    auth_window: timedelta
    failed_run_courses: int
    failed_runs_window: timedelta
    disk_min_free_percent: float
    disk_min_free_bytes: int
    channels: tuple[str, ...] = ()  # where admin alerts go out
    auth_failures_threshold: int = 30  # failed logins and bearer checks in failures_window


@dataclass(frozen=True)
class Finding:
    code: str
    holds: bool | None  # None: cannot tell now, so an open alert stays open and none opens
    message: str = ""
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def admin_alert_changes(
    open_alerts: Mapping[str, AdminAlert],
    findings: Sequence[Finding],
    channels: tuple[str, ...],
    now: datetime,
) -> list[Change]:
    """What to open, update and resolve so that the open admin alerts match the findings."""
    changes: list[Change] = []
    for finding in findings:
        current = open_alerts.get(finding.code)
        if finding.holds is None:
            continue
        if not finding.holds:
            if current is not None:
                changes.append(AdminAlertResolved(current.id, channels, now))
        elif current is None:
            changes.append(
                AdminAlertOpened(
                    finding.code, finding.message, finding.fix, finding.details, channels, now
                )
            )
        elif (current.message, current.fix, current.details) != (
            finding.message,
            finding.fix,
            finding.details,
        ):
            changes.append(
                AdminAlertUpdated(current.id, finding.message, finding.fix, finding.details, now)
            )
    return changes


class HealthJob:
    """Judges the conditions every `every_seconds` and keeps the admin alerts in step."""

    def __init__(
        self,
        readings: HealthReadings,
        alerts: AdminAlertStore,
        changes: ChangeSink,
        disk: DiskProbe,
        settings: HealthSettings,
        *,
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        every_seconds: float = 60.0,
        turns: Turns = ALONE,
    ) -> None:
        self._turns = turns
        self._readings = readings
        self._alerts = alerts
        self._changes = changes
        self._disk = disk
        self._settings = settings
        self._on_change = on_change
        self._clock = clock
        self._sleep = sleep
        self._every = every_seconds
        # Silence is measured from here at the latest: while gpb was down nothing could arrive.
        self._started = clock()

    async def run(self) -> None:
        # A round is named by its number since the epoch: replicas agree on it within a period.
        every = Every(
            self._every,
            lambda now: str(int(now.timestamp() // self._every)),
            self._clock,
            self._sleep,
        )
        await run_periodically(
            "health",
            self.run_once,
            every,
            self._turns,
            self._clock,
            failed="judging gpb's health failed; trying again shortly",
        )

    async def run_once(self) -> list[Change]:
        now = self._clock()
        findings = await self.findings(now)
        open_alerts = {a.code: a for a in await self._alerts.admin_alerts("open")}
        changes = admin_alert_changes(open_alerts, findings, self._settings.channels, now)
        if changes:
            await self._changes.apply(changes)
            if self._on_change is not None:
                self._on_change()
        return changes

    async def findings(self, now: datetime) -> list[Finding]:
        settings = self._settings
        runs = await self._readings.finished_runs(
            now - max(settings.auth_window, settings.failed_runs_window)
        )
        return [
            await self._silence(now),
            await self._failures(now),
            await self._guessing(now),
            *await self._credentials(now, runs),
            self._failed_runs(now, runs),
            self._disk_space(),
        ]

    async def _silence(self, now: datetime) -> Finding:
        settings = self._settings
        last = await self._readings.last_event_received()
        since = max(last, self._started) if last is not None else self._started
        if settings.school.elapsed(since, now) < settings.silence:
            return Finding(EVENTS_SILENT, False)
        if not settings.school.contains(now):
            return Finding(EVENTS_SILENT, None)  # nights and weekends are quiet anyway
        minutes = int(settings.silence.total_seconds() // 60)
        local = since.astimezone(settings.school.zone).strftime("%a %Y-%m-%d %H:%M %Z")
        what = "the last event" if last is not None and last >= self._started else "gpb started"
        return Finding(
            EVENTS_SILENT,
            True,
            f"No event has arrived from Canvas for over {minutes} minutes of school hours"
            f" ({what}: {local}).",
            "Canvas disables a Live Events subscription after repeated failed deliveries: check"
            " it in Canvas (Admin → Data Services), and that gpb answers at /events/canvas from"
            " outside; then look for rejected deliveries in the event log.",
            {"last_event_at": iso(last), "silence_minutes": minutes},
        )

    async def _failures(self, now: datetime) -> Finding:
        settings = self._settings
        minutes = int(settings.failures_window.total_seconds() // 60)
        count = await self._readings.failed_event_count(now - settings.failures_window)
        return Finding(
            EVENTS_FAILING,
            count >= settings.failures_threshold,
            f"{count} events failed or were refused in the last {minutes} minutes.",
            "Open the event log's failed and rejected events (/admin/events?status=failed,"
            " /admin/events?status=rejected): the errors of the newest ones tell the cause, such"
            " as a signing key gpb cannot find, a refused token, or Canvas down for gpb's reads.",
            {"count": count, "window_minutes": minutes},
        )

    async def _guessing(self, now: datetime) -> Finding:
        settings = self._settings
        minutes = int(settings.failures_window.total_seconds() // 60)
        count = await self._readings.auth_failure_count(now - settings.failures_window)
        return Finding(
            TOKENS_GUESSED,
            count >= settings.auth_failures_threshold,
            f"{count} logins or API calls with an unknown, revoked or expired token failed in the"
            f" last {minutes} minutes.",
            'gpb\'s log names the client addresses ("failed bearer check", "failed login"); each'
            " address is slowed to a few tries a minute. A script with an old token is the common"
            " cause: give it a new one. Otherwise block the addresses at the proxy.",
            {"count": count, "window_minutes": minutes},
        )

    async def _credentials(self, now: datetime, runs: Sequence[FinishedRun]) -> list[Finding]:
        since = now - self._settings.auth_window
        failing = await self._readings.failing_event_codes(since)
        findings = []
        for code, system, fix in (
            (
                SIS_AUTH_FAILED,
                "Infinite Campus",
                "Check GPB_SIS_CLIENT_ID, GPB_SIS_CLIENT_SECRET and GPB_SIS_VENDOR_AUTHORIZATION"
                " with IC's administrator, then run `gpb check`.",
            ),
            (
                CANVAS_AUTH_FAILED,
                "Canvas",
                "The Canvas token (GPB_CANVAS_TOKEN) was revoked or has expired: make a new one"
                " for the same user, then run `gpb check`.",
            ),
        ):
            events = failing.get(code, 0)
            courses = _course_ids(
                r for r in runs if r.finished_at >= since and code in r.error_codes
            )
            parts = []
            if events:
                parts.append(f"{events} events are failing")
            if courses:
                parts.append(f"runs failed in {_listed(courses)}")
            findings.append(
                Finding(
                    code,
                    bool(parts),
                    f"{system} refuses gpb's credentials: {'; '.join(parts)}.",
                    fix,
                    {"events": events, "courses": courses},
                )
            )
        return findings

    def _failed_runs(self, now: datetime, runs: Sequence[FinishedRun]) -> Finding:
        settings = self._settings
        since = now - settings.failed_runs_window
        latest = {run.course_id: run for run in runs if run.finished_at >= since}
        # A course whose teacher ran again with success is fine: only the latest run counts.
        failed = _course_ids(r for r in latest.values() if r.status is RunStatus.FAILED)
        hours = int(settings.failed_runs_window.total_seconds() // 3600)
        return Finding(
            RUNS_FAILING,
            len(failed) >= settings.failed_run_courses,
            f"The latest run failed in {len(failed)} courses over the last {hours} hours:"
            f" {_listed(failed)}.",
            "Open the failed runs: one cause shared by many courses (IC down or refusing,"
            " Canvas unreachable) is gpb's or IC's to fix, not the teachers'. `gpb check` tries"
            " every connection.",
            {"courses": failed, "window_hours": hours},
        )

    def _disk_space(self) -> Finding:
        settings = self._settings
        space = self._disk()
        if space is None or space.total_bytes <= 0:
            return Finding(DISK_LOW, None)
        percent = 100 * space.free_bytes / space.total_bytes
        free_mb = space.free_bytes // MIB
        return Finding(
            DISK_LOW,
            percent < settings.disk_min_free_percent
            or space.free_bytes < settings.disk_min_free_bytes,
            f"The database's file system has {free_mb} MB free ({percent:.0f}% of"
            f" {space.total_bytes // MIB} MB).",
            "Free space on that disk or grow it before SQLite fails to write: events would then"
            " be refused. Old backups are often what fills it; the event log itself is bounded"
            " by GPB_EVENT_RETENTION_DAYS.",
            {"free_mb": free_mb, "total_mb": space.total_bytes // MIB},
        )


def _course_ids(runs: Iterable[FinishedRun]) -> list[str]:
    return sorted({run.course_id for run in runs}, key=lambda c: (len(c), c))


def _listed(course_ids: Sequence[str]) -> str:
    shown = ", ".join(f"course {c}" for c in course_ids[:LISTED_COURSES])
    more = len(course_ids) - LISTED_COURSES
    return shown + (f" and {more} more" if more > 0 else "")
