"""Carrying out a run with in-memory ports: how many calls it has in flight, and how a failure
raised deep inside the run's task groups ends it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fakes import FakeCanvas, FakeCourseStore, FakeSis, FakeSyncStore, grade, homework

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.errors import SisAuthFailed
from gpb.handlers.ic_directory import IcDirectory
from gpb.handlers.model import (
    AssignmentGroup,
    Course,
    Enrollment,
    IcCategory,
    IcClass,
    Result,
    Section,
)
from gpb.handlers.sync_runner import SyncRunner, SyncSettings
from gpb.handlers.syncs import RunKind, RunStatus, SyncRun

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
COURSE = Course("456", "Algebra I", "available")
STATE = CourseState(
    course_id="456",
    course=COURSE,
    sections=(Section("7", "456", "P1", "SEC-7", 1), Section("8", "456", "P2", "SEC-8", 1)),
    groups=(AssignmentGroup("311", "456", "Homework"),),
    enrollments=(Enrollment("1201", "7", "S-1201"), Enrollment("1207", "8", "S-1207")),
    assignments={
        "124": AssignmentRecord(
            homework(
                id="124",
                title="Slope",
                assignment_group_id="311",
                due_at=datetime(2026, 10, 16, 4, 59, 59, tzinfo=UTC),
            ),
            (),
            True,
            0,
        )
    },
    loaded=True,
)


def runner(
    sis: FakeSis | None = None, students_per_section: int = 1
) -> tuple[SyncRunner, FakeSis, FakeSyncStore]:
    """A run of assignment 124's grades over sections 7 and 8; with more students than one a
    section, each gets a grade."""
    sis = sis or FakeSis()
    for class_id in ("SEC-7", "SEC-8"):
        sis.classes[class_id] = IcClass(class_id, f"Algebra {class_id}", "SCH-1")
        sis.categories[class_id] = [IcCategory(f"CAT-{class_id}", "Homework")]
    state, grades = STATE, [grade("1201", 9.0), grade("1207", 7.0)]
    if students_per_section > 1:
        students = [
            (f"{section}{n:03d}", section)
            for section in ("7", "8")
            for n in range(students_per_section)
        ]
        enrollments = tuple(Enrollment(user, section, f"S-{user}") for user, section in students)
        state = replace(STATE, enrollments=enrollments)
        grades = [grade(user, float(n % 10)) for n, (user, _) in enumerate(students)]
    courses = FakeCourseStore()
    courses.states["456"] = state
    store = FakeSyncStore(grades)

    async def reload_course(course_id: str) -> list[object]:
        raise AssertionError("a sync of a loaded course reads nothing from Canvas")

    sync = SyncRunner(
        canvas=FakeCanvas(COURSE),
        sis=sis,
        ic=IcDirectory(sis, ttl_seconds=60),
        courses=courses,
        grades=store,
        confirmed=store,
        runs=store,
        changes=store,
        reload_course=reload_course,
        settings=SyncSettings(ZoneInfo("America/Chicago"), 60.0, 4),
        clock=lambda: NOW,
    )
    return sync, sis, store


def run() -> SyncRun:
    return SyncRun("1", "456", RunKind.SYNC, False, RunStatus.QUEUED, None, None, NOW)


async def test_a_run_writes_each_section_line_item_then_its_results() -> None:
    sync, sis, store = runner()
    assert await sync.execute(run()) is RunStatus.SUCCEEDED
    assert sorted(li.class_id for li in sis.line_items) == ["SEC-7", "SEC-8"]
    assert sorted(r.score for r in sis.results if r.score is not None) == [7.0, 9.0]
    assert store.statuses["1"] == [RunStatus.RUNNING, RunStatus.SUCCEEDED]


async def test_ic_refusing_a_result_inside_the_section_task_groups_fails_the_run() -> None:
    """The refusal is raised in a result's task, inside its section's task group, inside the
    group of sections: it arrives wrapped twice, and still ends the run as IC refusing gpb."""
    sync, sis, store = runner()
    sis.refuse_results = SisAuthFailed("IC refused the access token")

    assert await sync.execute(run()) is RunStatus.FAILED

    assert len(sis.line_items) == 2  # the line items went out; the results were refused
    assert sis.results == []
    assert store.statuses["1"] == [RunStatus.RUNNING, RunStatus.FAILED]
    errors = store.reports["1"]["errors"]
    assert [(e["code"], e["message"]) for e in errors] == [
        ("SIS_AUTH_FAILED", "IC refused the access token")
    ]


class SlowSis(FakeSis):
    """Answers each result only after other tasks ran, and counts the results in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0

    async def put_result(self, result: Result) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        for _ in range(3):
            await asyncio.sleep(0)
        self.in_flight -= 1
        await super().put_result(result)


async def test_a_run_keeps_its_limit_of_calls_in_flight_busy_and_never_passes_it() -> None:
    sis = SlowSis()
    sync, _, store = runner(sis, students_per_section=30)

    assert await sync.execute(run(), concurrency=4) is RunStatus.SUCCEEDED

    assert len(sis.results) == 60
    assert sis.most_in_flight == 4
    assert store.reports["1"]["counts"]["sent"] == 60
