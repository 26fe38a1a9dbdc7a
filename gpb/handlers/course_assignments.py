"""A course's assignments as the API lists them and the pages show them: the undeleted ones in
Canvas's id order, each with its pending changes and when IC last confirmed one of its grades."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.ports import CourseStateStore, SyncStore
from gpb.handlers.sync_service import Pending


@dataclass(frozen=True)
class CourseAssignments:
    state: CourseState  # for the names of the groups and sections the assignments name
    records: list[AssignmentRecord]
    pending: Mapping[str, int]  # assignment id -> pending changes (absent: none)
    last_synced: Mapping[str, datetime]  # assignment id -> IC's latest confirmation


async def course_assignments(
    courses: CourseStateStore, pending: Pending, runs: SyncStore, course_id: str
) -> CourseAssignments:
    state = await courses.course_state(course_id)
    records = sorted(
        (r for r in state.assignments.values() if not r.assignment.deleted),
        key=lambda r: int(r.assignment.id),
    )
    return CourseAssignments(
        state, records, await pending.counts(course_id), await runs.last_synced(course_id)
    )
