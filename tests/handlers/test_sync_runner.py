"""Carrying out a run with in-memory ports: how a failure raised deep inside the run's task groups
ends it."""

from __future__ import annotations

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


def runner() -> tuple[SyncRunner, FakeSis, FakeSyncStore]:
    sis = FakeSis()
    for class_id in ("SEC-7", "SEC-8"):
        sis.classes[class_id] = IcClass(class_id, f"Algebra {class_id}", "SCH-1")
        sis.categories[class_id] = [IcCategory(f"CAT-{class_id}", "Homework")]
    courses = FakeCourseStore()
    courses.states["456"] = STATE
    store = FakeSyncStore([grade("1201", 9.0), grade("1207", 7.0)])

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
