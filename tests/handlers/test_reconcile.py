"""Reconciliation with in-memory ports: what counts as a repaired grade, what counts as drift in
IC, what a failing Canvas or IC leaves, the nightly-remaster opt-in, and the nightly schedule."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes import FakeCanvas, grade

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.delta import Confirmed
from gpb.handlers.errors import CanvasAuthFailed, SisRejected, SisUnavailable
from gpb.handlers.grades import Grade, GradeStored, SentValue
from gpb.handlers.model import Assignment, Course, Enrollment, Result, Submission
from gpb.handlers.periodic import next_run
from gpb.handlers.reconcile import (
    ReconcileCourse,
    ReconcileJob,
    Reconciler,
    ReconcileSettings,
    ReconcileStatus,
    Reconciliation,
)
from gpb.handlers.syncs import RunInProgress, RunKind, RunStatus, SyncRequest, SyncRun

NOW = datetime(2026, 11, 3, 8, 30, tzinfo=UTC)
READ_MS = int(NOW.timestamp() * 1000)
COURSE = Course("456", "Algebra", "available")
STATE = CourseState(
    "456",
    course=COURSE,
    enrollments=(Enrollment("1201", "7", "S-1"), Enrollment("1202", "7", "S-2")),
    assignments={
        "124": AssignmentRecord(Assignment("124", "456", "Slope", True, True, "1"), (), True, 0)
    },
    loaded=True,
)


def submission(user_id: str, score: float | None, **flags: Any) -> Submission:
    values = {"excused": False, "missing": False, "late": False, "posted": True} | flags
    return Submission("124", user_id, score, None if score is None else str(score), **values)


def result(user_id: str, score: float) -> Result:
    return Result(
        f"canvas-a124-s7-u{user_id}",
        "li",
        "S",
        score,
        "fully graded",
        date(2026, 11, 2),
        False,
        False,
    )


class Store:
    """Grades, confirmations, reconciliations and opt-ins in memory."""

    def __init__(self) -> None:
        self.grades_held: dict[tuple[str, str], Grade] = {}
        self.confirmations: list[Confirmed] = []
        self.saved: list[Reconciliation] = []
        self.known = {"456": ReconcileCourse("456", nightly_remaster=False)}
        self.asked_since: list[datetime | None] = []

    async def course_state(self, course_id: str) -> CourseState:
        return STATE

    async def grade(self, course_id: str, assignment_id: str, user_id: str) -> Grade | None:
        return self.grades_held.get((assignment_id, user_id))

    async def grades(self, course_id: str) -> list[Grade]:
        return list(self.grades_held.values())

    async def confirmed(self, course_id: str) -> list[Confirmed]:
        return list(self.confirmations)

    async def apply(self, changes: Sequence[object], *, linger: float = 0.0) -> None:
        for change in changes:
            assert isinstance(change, GradeStored)
            key = (change.grade.assignment_id, change.grade.user_id)
            held = self.grades_held.get(key)
            if held is None or change.grade.state_time_ms >= held.state_time_ms:
                self.grades_held[key] = change.grade

    async def courses_to_reconcile(self, active_since: datetime | None) -> list[ReconcileCourse]:
        self.asked_since.append(active_since)
        return list(self.known.values())

    async def reconcile_course(self, course_id: str) -> ReconcileCourse | None:
        return self.known.get(course_id)

    async def save_reconciliation(self, reconciliation: Reconciliation) -> Reconciliation:
        saved = replace(reconciliation, id=str(len(self.saved) + 1))
        self.saved.append(saved)
        return saved


class Ic:
    def __init__(self) -> None:
        self.results: dict[str, Result | Exception] = {}
        self.asked: list[str] = []

    async def get_result(self, sourced_id: str) -> Result | None:
        self.asked.append(sourced_id)
        found = self.results.get(sourced_id)
        if isinstance(found, Exception):
            raise found
        return found


class Remasters:
    def __init__(self, busy: str | None = None) -> None:
        self.requests: list[SyncRequest] = []
        self.busy = busy

    async def request(self, request: SyncRequest) -> SyncRun:
        if self.busy:
            raise RunInProgress(self.busy)
        self.requests.append(request)
        return SyncRun(
            "77", request.course_id, request.kind, False, RunStatus.QUEUED, None, None, NOW
        )


class Env:
    def __init__(self, active_days: int = 30) -> None:
        self.canvas = FakeCanvas(COURSE)
        self.store = Store()
        self.ic = Ic()
        self.remasters = Remasters()
        self.reloads: list[str] = []
        self.reconciler = Reconciler(
            canvas=self.canvas,
            sis=self.ic,  # type: ignore[arg-type]  # only results are read
            courses=self.store,
            grades=self.store,
            confirmed=self.store,
            changes=self.store,
            reload_course=self.reload,
            remasters=self.remasters,
            store=self.store,  # type: ignore[arg-type]  # the opt-in is not set here
            settings=ReconcileSettings(concurrency=2, active_days=active_days),
            clock=lambda: NOW,
        )

    async def reload(self, course_id: str) -> list[object]:
        self.reloads.append(course_id)
        return []

    async def once(self, trigger: Any = "command") -> Reconciliation:
        (done,) = await self.reconciler.run(trigger, ["456"])
        return done


async def test_grades_events_missed_are_stored_and_counted() -> None:
    env = Env()
    env.store.grades_held = {
        ("124", "1201"): grade("1201", 8.0),
        ("124", "1202"): grade("1202", 5.0, posted=False),
    }
    env.canvas.submissions = {
        ("124", "1201"): submission("1201", 9.5),  # a grade_change that never came
        ("124", "1202"): submission("1202", 5.0, posted=True),  # posted: nothing for IC
        ("124", "1203"): submission("1203", None, posted=False),  # never graded
    }
    done = await env.once()
    assert env.reloads == ["456"]  # the course and its verdicts were read again first
    assert done.status is ReconcileStatus.SUCCEEDED and done.repaired_grades == 1
    (repaired,) = done.report["repaired"]
    assert repaired["student_id"] == "1201"
    assert (repaired["before"]["score"], repaired["after"]["score"]) == (8.0, 9.5)
    assert env.store.grades_held[("124", "1201")].value.score == 9.5
    assert env.store.grades_held[("124", "1202")].value.posted is True
    assert env.store.saved == [done]


async def test_a_grade_an_event_changed_after_the_read_is_kept() -> None:
    env = Env()
    env.store.grades_held = {("124", "1201"): grade("1201", 7.0, state_time_ms=READ_MS + 5)}
    env.canvas.submissions = {("124", "1201"): submission("1201", 6.0)}
    done = await env.once()
    assert done.repaired_grades == 0 and env.store.grades_held[("124", "1201")].value.score == 7.0


def confirmed(user_id: str, score: float) -> Confirmed:
    return Confirmed("124", "7", user_id, SentValue(score, False, False, False), NOW)


async def test_results_ic_no_longer_holds_as_confirmed_are_drift() -> None:
    env = Env()
    env.store.grades_held = {("124", u): grade(u, 9.0) for u in ("1201", "1202", "1203", "1204")}
    env.canvas.submissions = {("124", u): submission(u, 9.0) for u in ("1201", "1202", "1203")}
    env.store.confirmations = [confirmed(u, 9.0) for u in ("1204", "1203", "1202", "1201")]
    env.ic.results = {
        "canvas-a124-s7-u1201": result("1201", 9.0),  # as confirmed
        "canvas-a124-s7-u1202": result("1202", 3.0),  # changed by hand in IC
        "canvas-a124-s7-u1204": SisRejected("SIS_RESULT_REJECTED", "400"),  # IC will not say
    }  # 1203: gone from IC
    done = await env.once()
    assert done.status is ReconcileStatus.SUCCEEDED and done.drift_count == 2
    assert [(d["kind"], d["student_id"]) for d in done.report["drift"]] == [
        ("changed_in_ic", "1202"),
        ("missing_in_ic", "1203"),
    ]
    changed = done.report["drift"][0]
    assert changed["confirmed"]["score"] == 9.0 and changed["ic"]["score"] == 3.0
    assert changed["canvas"]["score"] == 9.0 and changed["sourced_id"] == "canvas-a124-s7-u1202"
    assert (done.report["ic_checked"], done.report["ic_unreadable"]) == (3, 1)
    assert env.remasters.requests == []  # a report only: nothing written to IC


async def test_ic_down_leaves_the_repairs_and_says_ic_was_not_compared() -> None:
    env = Env()
    env.canvas.submissions = {("124", "1201"): submission("1201", 9.5)}
    env.store.confirmations = [confirmed("1201", 9.0), confirmed("1202", 9.0)]
    env.ic.results = {"canvas-a124-s7-u1201": SisUnavailable("IC answered 503")}
    done = await env.once()
    assert done.status is ReconcileStatus.PARTIAL and done.repaired_grades == 1
    assert [e["code"] for e in done.report["errors"]] == ["SIS_UNAVAILABLE"]
    assert done.report["errors"][0]["fix"]  # from the error dictionary
    assert done.drift_count == 0


async def test_canvas_refusing_the_token_fails_the_course_and_changes_nothing() -> None:
    env = Env()
    env.store.grades_held = {("124", "1201"): grade("1201", 8.0)}
    env.canvas.failure = CanvasAuthFailed("401")
    env.store.known["456"] = ReconcileCourse("456", nightly_remaster=True)
    done = await env.once("nightly")
    assert done.status is ReconcileStatus.FAILED
    assert [e["code"] for e in done.report["errors"]] == ["CANVAS_AUTH_FAILED"]
    assert env.store.grades_held[("124", "1201")].value.score == 8.0
    assert env.remasters.requests == [] and env.ic.asked == []


async def test_a_course_that_opted_in_gets_a_remaster_after_the_nightly_run_only() -> None:
    env = Env()
    env.store.known["456"] = ReconcileCourse("456", nightly_remaster=True)
    assert (await env.once("command")).report["remaster"] is None
    done = await env.once("nightly")
    assert done.report["remaster"] == {"sync_id": "77", "queued": True}
    (request,) = env.remasters.requests
    assert (request.kind, request.dry_run, request.assignment_ids) == (
        RunKind.REMASTER,
        False,
        None,
    )
    env.remasters.busy = "76"
    assert (await env.once("nightly")).report["remaster"] == {"sync_id": "76", "queued": False}


async def test_the_nightly_pass_takes_the_courses_active_lately() -> None:
    env = Env(active_days=30)
    await env.reconciler.run("nightly")
    assert env.store.asked_since == [NOW - timedelta(days=30)]
    every = Env(active_days=0)
    await every.reconciler.run("nightly")
    assert every.store.asked_since == [None]


CHICAGO = ZoneInfo("America/Chicago")


def test_the_next_run_is_the_next_time_the_local_clock_shows_the_hour() -> None:
    at = time(2, 30)
    before = datetime(2026, 11, 2, 1, 0, tzinfo=CHICAGO)
    assert next_run(before, at, CHICAGO) == datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    after = datetime(2026, 11, 2, 2, 30, tzinfo=CHICAGO)
    assert next_run(after, at, CHICAGO) == datetime(2026, 11, 3, 8, 30, tzinfo=UTC)
    summer = datetime(2026, 6, 1, 12, tzinfo=CHICAGO)
    assert next_run(summer, at, CHICAGO) == datetime(2026, 6, 2, 7, 30, tzinfo=UTC)


async def test_the_job_runs_each_night_at_the_set_time() -> None:
    clock = [datetime(2026, 11, 2, 12, 0, tzinfo=CHICAGO)]
    ran: list[datetime] = []
    waits: list[float] = []

    class Nights:
        async def run(self, trigger: str) -> list[Reconciliation]:
            ran.append(clock[0])
            assert trigger == "nightly"
            if len(ran) == 2:
                raise asyncio.CancelledError
            raise OSError("database is locked")  # a bad night does not stop the job

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += timedelta(seconds=seconds)

    job = ReconcileJob(
        Nights(),  # type: ignore[arg-type]
        time(2, 30),
        CHICAGO,
        clock=lambda: clock[0],
        sleep=sleep,
    )
    with pytest.raises(asyncio.CancelledError):
        await job.run()
    assert [t.astimezone(CHICAGO).replace(tzinfo=None) for t in ran] == [
        datetime(2026, 11, 3, 2, 30),
        datetime(2026, 11, 4, 2, 30),
    ]
    assert max(waits) <= 3600
