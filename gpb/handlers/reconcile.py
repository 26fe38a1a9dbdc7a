"""Reconciliation: live events can be lost, and IC can be changed by hand.

Each night, for every active course, gpb reads the course from Canvas again and re-judges its
assignments (as a remaster does), reads every grade of every eligible assignment and stores what
events missed (the pending delta follows by itself), then reads back from IC each result it
confirmed and reports those IC no longer holds as confirmed: changed by hand, or gone. It writes
nothing to IC; a course that opts in gets a remaster queued, which then runs the usual way.

IC asks for few requests at a time: courses go one after another, and the reads of one course
keep at most `GPB_SIS_MAX_CONCURRENCY` in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import partial
from typing import Any, Literal, Protocol

from gpb.handlers.claims import ALONE, Turns
from gpb.handlers.delta import Confirmed
from gpb.handlers.dictionary import BY_CODE
from gpb.handlers.errors import CanvasError, SisError, SisRejected
from gpb.handlers.failure_groups import to_report
from gpb.handlers.grades import Grade, GradeStored, GradeValue, SentValue, ic_value, read_grades
from gpb.handlers.messagebus import Unusable
from gpb.handlers.model import Result
from gpb.handlers.periodic import DailyAt, run_periodically
from gpb.handlers.ports import (
    Canvas,
    ChangeSink,
    ConfirmedStore,
    CourseStateStore,
    GradeStore,
    ReconcileStore,
    Sis,
)
from gpb.handlers.sync_plan import result_id
from gpb.handlers.sync_runner import ReloadCourse
from gpb.handlers.syncs import RunInProgress, RunKind, SyncRequest, SyncRun
from gpb.handlers.timefmt import utcnow

log = logging.getLogger("gpb.reconcile")

Trigger = Literal["nightly", "command"]
NIGHTLY: Trigger = "nightly"
COURSE_NOT_IN_CANVAS = "COURSE_NOT_IN_CANVAS"
INTERNAL_ERROR = "INTERNAL_ERROR"
BLANK = GradeValue()  # what gpb holds of a grade no event told it of
# Codes outside the error dictionary, with their fixes.
FIXES = {
    COURSE_NOT_IN_CANVAS: "The course was deleted in Canvas, or gpb's token may not read it.",
    INTERNAL_ERROR: "Run `gpb reconcile --course ID` again; if it recurs, report it with the log.",
}


class ReconcileStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # Canvas read and repaired, but IC could not be compared
    FAILED = "failed"  # Canvas could not be read: nothing was repaired


class DriftKind(StrEnum):
    CHANGED_IN_IC = "changed_in_ic"  # IC holds another value than the one it confirmed to gpb
    MISSING_IN_IC = "missing_in_ic"  # IC no longer holds a result it confirmed


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    assignment_id: str
    section_id: str
    student_id: str
    sourced_id: str
    confirmed: SentValue  # what IC confirmed to gpb
    ic: SentValue | None  # what IC holds now
    canvas: GradeValue | None  # what Canvas holds now

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "assignment_id": self.assignment_id,
            "section_id": self.section_id,
            "student_id": self.student_id,
            "sourced_id": self.sourced_id,
            "confirmed": self.confirmed.as_json(),
            "ic": self.ic.as_json() if self.ic else None,
            "canvas": self.canvas.as_json() if self.canvas else None,
        }


@dataclass(frozen=True)
class Repair:
    """A grade whose event gpb never got: what gpb held, and what Canvas holds."""

    assignment_id: str
    student_id: str
    before: GradeValue | None
    after: GradeValue

    def as_json(self) -> dict[str, Any]:
        return {
            "assignment_id": self.assignment_id,
            "student_id": self.student_id,
            "before": self.before.as_json() if self.before else None,
            "after": self.after.as_json(),
        }


@dataclass(frozen=True)
class ReconcileCourse:
    course_id: str
    nightly_remaster: bool = False  # the course opted in to a remaster after its reconciliation


@dataclass(frozen=True)
class Reconciliation:
    """One course's reconciliation; `report` holds its lists (JSON shaped as docs/api.md shows)."""

    course_id: str
    trigger: str
    status: ReconcileStatus
    started_at: datetime
    finished_at: datetime
    repaired_grades: int
    drift_count: int
    report: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # given by the store


class RemasterQueue(Protocol):
    async def request(self, request: SyncRequest) -> SyncRun: ...


@dataclass(frozen=True)
class ReconcileSettings:
    concurrency: int  # IC reads in flight at once
    active_days: int  # a course with no event or run for this long is skipped; 0: every course


@dataclass(frozen=True)
class _IcComparison:
    drift: list[Drift] = field(default_factory=list)
    checked: int = 0
    unreadable: int = 0  # IC refused to show these results (4xx)
    error: SisError | None = None  # IC could not be asked at all


class _Unreadable:
    """IC refused to show one result; the others may still be compared."""


@dataclass
class Reconciler:
    canvas: Canvas
    sis: Sis
    courses: CourseStateStore
    grades: GradeStore
    confirmed: ConfirmedStore
    changes: ChangeSink
    reload_course: ReloadCourse
    remasters: RemasterQueue
    store: ReconcileStore
    settings: ReconcileSettings
    clock: Callable[[], datetime] = utcnow

    async def run(
        self, trigger: Trigger, course_ids: Sequence[str] | None = None
    ) -> list[Reconciliation]:
        """Reconciles the given courses, else the active ones, one after another."""
        if course_ids is None:
            days = self.settings.active_days
            since = self.clock() - timedelta(days=days) if days else None
            courses = await self.store.courses_to_reconcile(since)
        else:
            courses = [
                await self.store.reconcile_course(c) or ReconcileCourse(c) for c in course_ids
            ]
        return [await self.reconcile(course, trigger) for course in courses]

    async def reconcile(self, course: ReconcileCourse, trigger: Trigger) -> Reconciliation:
        started = self.clock()
        try:
            reconciliation = await self._reconcile(course, trigger, started)
        except Exception as exc:  # a defect, not an outside failure: say so, go on to the next
            log.exception("reconciling course %s failed unexpectedly", course.course_id)
            reconciliation = self._finished(
                course.course_id,
                trigger,
                started,
                errors=[_error(INTERNAL_ERROR, f"an unexpected {type(exc).__name__}")],
            )
        saved = await self.store.save_reconciliation(reconciliation)
        log.info(
            "reconciled course %s: %s, %d grades repaired, %d drifted in IC",
            saved.course_id,
            saved.status.value,
            saved.repaired_grades,
            saved.drift_count,
        )
        return saved

    async def _reconcile(
        self, course: ReconcileCourse, trigger: Trigger, started: datetime
    ) -> Reconciliation:
        course_id = course.course_id
        try:
            repairs = await self._repair(course_id)
        except CanvasError as exc:
            return self._finished(
                course_id, trigger, started, errors=[_error(exc.code, exc.message)]
            )
        except Unusable as exc:
            return self._finished(
                course_id, trigger, started, errors=[_error(COURSE_NOT_IN_CANVAS, str(exc))]
            )
        compared = await self._compare_with_ic(course_id)
        errors = [_error(compared.error.code, compared.error.message)] if compared.error else []
        remaster = None
        if trigger == NIGHTLY and course.nightly_remaster:
            remaster = await self._queue_remaster(course_id)
        return self._finished(
            course_id,
            trigger,
            started,
            repairs=repairs,
            compared=compared,
            errors=errors,
            remaster=remaster,
        )

    async def _repair(self, course_id: str) -> list[Repair]:
        """Reads the course and its grades from Canvas again and stores them; returns the grades
        events had missed."""
        await self.changes.apply(await self.reload_course(course_id))
        state = await self.courses.course_state(course_id)
        stored = {(g.assignment_id, g.user_id): g for g in await self.grades.grades(course_id)}
        fresh = await read_grades(self.canvas, state, int(self.clock().timestamp() * 1000))
        repairs = []
        for grade in fresh:
            before = stored.get((grade.assignment_id, grade.user_id))
            if _missed(before, grade):
                held = before.value if before is not None else None
                repairs.append(Repair(grade.assignment_id, grade.user_id, held, grade.value))
        await self.changes.apply([GradeStored(g) for g in fresh])
        return repairs

    async def _compare_with_ic(self, course_id: str) -> _IcComparison:
        confirmed = await self.confirmed.confirmed(course_id)
        if not confirmed:
            return _IcComparison()
        slots = asyncio.Semaphore(self.settings.concurrency)

        async def read(done: Confirmed) -> Result | _Unreadable | None:
            async with slots:
                try:
                    return await self.sis.get_result(_sourced_id(done))
                except SisRejected:
                    return _Unreadable()

        failure: SisError | None = None
        try:
            async with asyncio.TaskGroup() as group:
                reads = [(c, group.create_task(read(c))) for c in confirmed]
        except* SisError as failures:  # IC down, busy or refusing gpb: stop asking it tonight
            failure = to_report(failures)
        if failure is not None:
            return _IcComparison(error=failure)
        canvas = {
            (g.assignment_id, g.user_id): g.value for g in await self.grades.grades(course_id)
        }
        drift: list[Drift] = []
        unreadable = 0
        for done, task in reads:
            result = task.result()
            if isinstance(result, _Unreadable):
                unreadable += 1
                continue
            now_in_ic = ic_value(result) if result is not None else None
            if now_in_ic == done.value:
                continue
            kind = DriftKind.MISSING_IN_IC if now_in_ic is None else DriftKind.CHANGED_IN_IC
            drift.append(
                Drift(
                    kind,
                    done.assignment_id,
                    done.section_id,
                    done.user_id,
                    _sourced_id(done),
                    done.value,
                    now_in_ic,
                    canvas.get((done.assignment_id, done.user_id)),
                )
            )
        drift.sort(key=lambda d: (int(d.assignment_id), int(d.section_id), int(d.student_id)))
        return _IcComparison(drift, len(confirmed) - unreadable, unreadable)

    async def _queue_remaster(self, course_id: str) -> dict[str, Any]:
        request = SyncRequest(course_id, RunKind.REMASTER, False, None, "nightly reconciliation")
        try:
            run = await self.remasters.request(request)
        except RunInProgress as busy:
            return {"sync_id": busy.sync_id, "queued": False}
        return {"sync_id": run.id, "queued": True}

    def _finished(
        self,
        course_id: str,
        trigger: Trigger,
        started: datetime,
        *,
        repairs: Sequence[Repair] = (),
        compared: _IcComparison | None = None,
        errors: Sequence[dict[str, Any]] = (),
        remaster: dict[str, Any] | None = None,
    ) -> Reconciliation:
        # Without a comparison Canvas could not be read, and nothing was repaired.
        if compared is None:
            status = ReconcileStatus.FAILED
        else:
            status = ReconcileStatus.PARTIAL if errors else ReconcileStatus.SUCCEEDED
        compared = compared or _IcComparison()
        return Reconciliation(
            course_id=course_id,
            trigger=trigger,
            status=status,
            started_at=started,
            finished_at=self.clock(),
            repaired_grades=len(repairs),
            drift_count=len(compared.drift),
            report={
                "repaired": [r.as_json() for r in repairs],
                "drift": [d.as_json() for d in compared.drift],
                "ic_checked": compared.checked,
                "ic_unreadable": compared.unreadable,
                "errors": list(errors),
                "remaster": remaster,
            },
        )


class ReconcileJob:
    """Reconciles the active courses once a day at `at` (a local time of `zone`): off-peak, when
    IC allows more reads and teachers are not grading."""

    def __init__(
        self,
        reconciler: Reconciler,
        at: time,
        zone: tzinfo,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        turns: Turns = ALONE,
    ) -> None:
        self._reconciler = reconciler
        self._turns = turns
        self._at = at
        self._zone = zone
        self._clock = clock
        self._sleep = sleep

    async def run(self) -> None:
        await run_periodically(
            "reconcile",
            partial(self._reconciler.run, NIGHTLY),
            DailyAt(self._at, self._zone, self._clock, self._sleep),
            self._turns,
            self._clock,
            failed="the nightly reconciliation failed; trying again tomorrow",
        )


def _missed(before: Grade | None, after: Grade) -> bool:
    """Whether Canvas holds another grade than gpb, which an event would have told it of."""
    if before is not None and before.state_time_ms > after.state_time_ms:
        return False  # an event newer than this read came meanwhile: it stays
    held = before.value if before is not None else BLANK
    # Posting alone sends nothing to IC; it is stored, but it is no lost grade.
    return replace(held, posted=after.value.posted) != after.value


def _sourced_id(done: Confirmed) -> str:
    return result_id(done.assignment_id, done.section_id, done.user_id)


def _error(code: str, message: str) -> dict[str, Any]:
    known = BY_CODE.get(code)
    return {"code": code, "message": message, "fix": known.fix if known else FIXES.get(code)}
