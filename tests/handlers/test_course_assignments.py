"""A course's assignments, and the courses someone may see, as the API lists them and the pages
show them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from fakes import FakeCourseStore, FakeRunQueue, homework

from gpb.handlers.course_assignments import course_assignments
from gpb.handlers.course_list import visible_courses
from gpb.handlers.course_state import (
    AssignmentRecord,
    AssignmentStored,
    EnrollmentsStored,
    SectionsStored,
)
from gpb.handlers.courses import CourseSummary
from gpb.handlers.grades import Grade, GradeValue
from gpb.handlers.model import Enrollment, Section
from gpb.handlers.sync_service import Pending
from gpb.handlers.tokens import Principal, Role

SYNCED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def _course_with_pending_grade() -> tuple[FakeCourseStore, FakeRunQueue]:
    """Course 456 with assignments 3, 20 and a deleted 100; one student's grade of 20 to send."""
    courses = FakeCourseStore()
    courses.apply(
        [
            SectionsStored("456", (Section("7", "456", "Period 1", "SEC-7", 5),)),
            EnrollmentsStored("456", (Enrollment("1201", "7", "S-1201"),)),
            *(
                AssignmentStored(AssignmentRecord(homework(id=aid, deleted=gone), (), True, 1))
                for aid, gone in (("20", False), ("3", False), ("100", True))
            ),
        ]
    )
    return courses, FakeRunQueue([Grade("456", "20", "1201", GradeValue(9.0, "9"))])


async def test_undeleted_assignments_in_id_order_with_their_pending_changes_and_last_sync() -> None:
    courses, runs = await _course_with_pending_grade()
    runs.synced["456"] = {"3": SYNCED}
    pending = Pending(courses, runs, runs, runs)

    listed = await course_assignments(courses, pending, runs, "456")

    assert [r.assignment.id for r in listed.records] == ["3", "20"]
    assert listed.pending == {"20": 1}  # 3 has no grade to send
    assert listed.last_synced == {"3": SYNCED}
    assert listed.state.course_id == "456"


class Directory:
    """The courses gpb knows of, as the store summarises them."""

    def __init__(self, *course_ids: str) -> None:
        self.courses = [CourseSummary(c, f"Course {c}", 0, None) for c in course_ids]

    async def summaries(self, only: Collection[str] | None) -> list[CourseSummary]:
        return [c for c in self.courses if only is None or c.id in only]


async def test_a_teacher_sees_their_known_courses_and_an_admin_all_with_pending_counts() -> None:
    courses, runs = await _course_with_pending_grade()
    pending = Pending(courses, runs, runs, runs)
    directory = Directory("456", "789")
    teacher = Principal(Role.INSTRUCTOR, frozenset({"456", "999"}))
    seen = await visible_courses(directory, pending, teacher)
    assert [(c.summary.id, c.pending_changes) for c in seen] == [("456", 1)]
    admin = Principal(Role.ADMIN, frozenset())
    seen = await visible_courses(directory, pending, admin)
    assert [(c.summary.id, c.pending_changes) for c in seen] == [("456", 1), ("789", 0)]
