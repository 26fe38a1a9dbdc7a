"""The health job's readings, the admin alerts and their outbox on SQLite, and the whole path from
a condition to the notifiers: opened, then resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from canvas_events import grade_event

from gpb.handlers.backoff import RetryPolicy
from gpb.handlers.eventlog import EventStatus, Finish, Rejection
from gpb.handlers.health import (
    DISK_LOW,
    AdminAlertOpened,
    AdminAlertResolved,
    AdminAlertUpdated,
    AdminNotice,
    DiskSpace,
    HealthJob,
    HealthSettings,
)
from gpb.handlers.notices import NoticeDispatcher
from gpb.handlers.school_hours import SchoolHours
from gpb.handlers.syncs import RunError, RunKind, RunReport, RunStatus, SyncRequest
from gpb.infra.store.health import disk_space
from gpb.infra.store.store import SqlStore

GB = 1024**3


def now() -> datetime:
    return datetime.now(UTC)


async def event(store: SqlStore, score: float, finish: Finish) -> None:
    appended = await store.events.append(grade_event(score), None)
    await store.events.finish(appended.id, finish)


async def run(
    store: SqlStore, course_id: str, status: RunStatus, *codes: str, dry: bool = False
) -> None:
    request = SyncRequest(course_id, RunKind.SYNC, dry, None, "test")
    created = await store.syncs.create_run(request, now())
    report = RunReport(errors=[RunError(code, "refused", "fix it") for code in codes])
    await store.syncs.finish(created.id, status, report.as_json(), now())


async def test_the_readings_of_the_event_log_and_the_runs(store: SqlStore) -> None:
    health = store.health
    assert await health.last_event_received() is None
    assert await health.failed_event_count(now() - timedelta(hours=1)) == 0
    before = now()
    await event(store, 1, Finish(EventStatus.PROCESSED, 1))
    auth = {"code": "CANVAS_AUTH_FAILED", "message": "401"}
    retry = now() + timedelta(minutes=5)
    await event(store, 2, Finish(EventStatus.FAILED, 1, error=auth, next_attempt_at=retry))
    down = {"code": "SIS_UNAVAILABLE", "message": "503"}
    await event(store, 3, Finish(EventStatus.FAILED, 8, error=down))
    last_handled = await health.last_event_received()
    await store.events.append_rejected(Rejection("BAD_SIGNATURE", "forged", b"x", None))
    after = now()

    assert last_handled is not None and before <= last_handled <= after
    assert await health.last_event_received() == last_handled  # a refused delivery is no sign
    assert await health.failed_event_count(before) == 3
    assert await health.failed_event_count(after) == 0
    assert await health.failing_event_codes(before) == {
        "CANVAS_AUTH_FAILED": 1,
        "SIS_UNAVAILABLE": 1,
    }
    # Later, only the event still being retried is failing.
    assert await health.failing_event_codes(after) == {"CANVAS_AUTH_FAILED": 1}

    await run(store, "456", RunStatus.FAILED, "SIS_AUTH_FAILED")
    await run(store, "457", RunStatus.SUCCEEDED)
    await run(store, "458", RunStatus.FAILED, "SIS_AUTH_FAILED", dry=True)
    runs = await health.finished_runs(before)
    assert [(r.course_id, r.status, r.error_codes) for r in runs] == [
        ("456", RunStatus.FAILED, frozenset({"SIS_AUTH_FAILED"})),
        ("457", RunStatus.SUCCEEDED, frozenset()),
    ]
    assert await health.finished_runs(now() + timedelta(seconds=1)) == []


async def test_an_admin_alert_opens_once_and_queues_a_notice_per_channel(
    store: SqlStore,
) -> None:
    at = now()
    opened = AdminAlertOpened(
        DISK_LOW, "5 GB free.", "Free some.", {"free_mb": 5120}, ("a", "b"), at
    )
    await store.apply([opened])
    await store.apply([opened])  # a second process judging the same database
    (alert,) = await store.health.admin_alerts("open")
    assert (alert.code, alert.details, alert.opened_at) == (DISK_LOW, {"free_mb": 5120}, at)

    due = await store.health.due_notices(now(), 10)
    assert sorted((n.channel, n.change) for n in due) == [("a", "opened"), ("b", "opened")]
    assert (due[0].alert.id, due[0].alert.state, due[0].alert.message) == (
        alert.id,
        "open",
        "5 GB free.",
    )
    await store.health.notice_sent(due[0].id, due[0].as_json(), now())
    await store.health.notice_failed(due[1].id, "refused", now() + timedelta(hours=1), now())
    assert await store.health.due_notices(now(), 10) == []

    await store.apply([AdminAlertUpdated(alert.id, "4 GB free.", "Free some.", {}, now())])
    assert (await store.health.admin_alerts("open"))[0].message == "4 GB free."
    assert await store.health.due_notices(now(), 10) == []  # an update goes out to nobody

    await store.apply([AdminAlertResolved(alert.id, ("a",), now())])
    assert await store.health.admin_alerts("open") == []
    (resolved,) = await store.health.admin_alerts("resolved")
    assert resolved.resolved_at is not None
    (notice,) = await store.health.due_notices(now(), 10)
    assert (notice.change, notice.alert.state, notice.alert.message) == (
        "resolved",
        "resolved",
        "4 GB free.",
    )
    await store.apply([opened])  # the condition comes back: a new alert
    assert [a.state for a in await store.health.admin_alerts()] == ["open", "resolved"]


class Recorder:
    def __init__(self) -> None:
        self.got: list[AdminNotice] = []

    async def send(self, notice: AdminNotice) -> None:
        self.got.append(notice)


async def test_the_notifiers_hear_of_the_opening_and_the_resolution(store: SqlStore) -> None:
    disk = [DiskSpace(100 * GB, 3 * GB)]
    hook, inbox = Recorder(), Recorder()
    dispatcher = NoticeDispatcher(
        store.health, {"webhook": hook, "canvas_inbox": inbox}, RetryPolicy()
    )
    job = HealthJob(
        store.health,
        store.health,
        store,
        lambda: disk[0],
        HealthSettings(
            school=SchoolHours.parse("mon-fri", "07:00-17:00", ZoneInfo("UTC")),
            silence=timedelta(days=365),
            failures_threshold=20,
            failures_window=timedelta(minutes=15),
            auth_window=timedelta(hours=1),
            failed_run_courses=3,
            failed_runs_window=timedelta(days=1),
            disk_min_free_percent=10,
            disk_min_free_bytes=0,
            channels=("webhook", "canvas_inbox"),
        ),
        on_change=dispatcher.notify,
    )
    await job.run_once()
    assert await dispatcher.dispatch_due() == 2
    disk[0] = DiskSpace(100 * GB, 40 * GB)
    await job.run_once()
    await dispatcher.dispatch_due()
    for recorder in (hook, inbox):
        sent: list[dict[str, Any]] = [n.as_json() for n in recorder.got]
        assert [(s["type"], s["change"], s["alert"]["code"]) for s in sent] == [
            ("gpb.admin_alert", "opened", DISK_LOW),
            ("gpb.admin_alert", "resolved", DISK_LOW),
        ]
    assert await store.health.due_notices(now(), 10) == []


def test_the_free_space_of_the_database_s_file_system(tmp_path: Path) -> None:
    space = disk_space(str(tmp_path / "gpb.db"))
    assert space is not None and 0 < space.free_bytes <= space.total_bytes
    assert disk_space(str(tmp_path / "gone" / "deeper" / "gpb.db")) is None
