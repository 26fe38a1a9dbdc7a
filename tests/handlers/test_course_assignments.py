"""A course's assignments as the API lists them and the pages show them."""

from __future__ import annotations

from datetime import UTC, datetime

from fakes import FakeCourseStore, FakeRunQueue, homework

from gpb.handlers.course_assignments import course_assignments
from gpb.handlers.course_state import (
    AssignmentRecord,
    AssignmentStored,
    EnrollmentsStored,
    SectionsStored,
)
from gpb.handlers.grades import Grade, GradeValue
from gpb.handlers.model import Enrollment, Section
from gpb.handlers.sync_service import Pending

SYNCED = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def test_undeleted_assignments_in_id_order_with_their_pending_changes_and_last_sync() -> None:
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
    runs = FakeRunQueue([Grade("456", "20", "1201", GradeValue(9.0, "9"))])
    runs.synced["456"] = {"3": SYNCED}
    pending = Pending(courses, runs, runs, runs)

    listed = await course_assignments(courses, pending, runs, "456")

    assert [r.assignment.id for r in listed.records] == ["3", "20"]
    assert listed.pending == {"20": 1}  # 3 has no grade to send
    assert listed.last_synced == {"3": SYNCED}
    assert listed.state.course_id == "456"
