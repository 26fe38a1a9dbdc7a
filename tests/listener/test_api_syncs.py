"""A run as the API answers it: its grades named from the course, and a run under way answered
without reading the course (its page polls it every second)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from gpb.handlers.course_state import CourseState
from gpb.handlers.model import Enrollment
from gpb.handlers.syncs import GradeOutcome, Outcome, RunKind, RunReport, RunStatus, SyncRun
from gpb.listener.api_syncs import run_answer
from gpb.listener.context import AppContext

AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


class CountedCourses:
    """The course store's one read, counted."""

    def __init__(self) -> None:
        self.reads = 0

    async def course_state(self, course_id: str) -> CourseState:
        self.reads += 1
        return CourseState(
            course_id, enrollments=(Enrollment("1201", "7", "S-1", "active", "Doe, Jane"),)
        )


def context(courses: CountedCourses) -> AppContext:
    return cast(AppContext, type("Context", (), {"course_state": courses})())


def run(status: RunStatus, report: dict[str, Any] | None) -> SyncRun:
    return SyncRun("5", "456", RunKind.SYNC, False, status, "t", None, AT, report=report)


async def test_a_finished_runs_grades_carry_the_students_names() -> None:
    courses = CountedCourses()
    report = RunReport(grades=[GradeOutcome("124", "1201", "7", Outcome.SENT)]).as_json()
    answer = await run_answer(context(courses), run(RunStatus.SUCCEEDED, report))
    assert [g.student_name for g in answer.grades] == ["Doe, Jane"]
    assert courses.reads == 1


async def test_a_run_under_way_is_answered_without_reading_the_course() -> None:
    courses = CountedCourses()
    answer = await run_answer(context(courses), run(RunStatus.RUNNING, None))
    assert answer.status == "running" and answer.grades == []
    assert courses.reads == 0
