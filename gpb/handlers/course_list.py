"""The courses someone may see, as `GET /api/courses` lists them and the home page shows them."""

from __future__ import annotations

from dataclasses import dataclass

from gpb.handlers.courses import CourseSummary
from gpb.handlers.ports import CourseDirectory
from gpb.handlers.sync_service import Pending
from gpb.handlers.tokens import Principal


@dataclass(frozen=True)
class VisibleCourse:
    summary: CourseSummary
    pending_changes: int  # the course's pending delta, every assignment: as its own pages count


async def visible_courses(
    directory: CourseDirectory, pending: Pending, principal: Principal
) -> list[VisibleCourse]:
    """The courses gpb knows of that `principal` may see: an admin sees them all."""
    only = None if principal.is_admin else principal.course_ids
    return [
        VisibleCourse(course, sum((await pending.counts(course.id)).values()))
        for course in await directory.summaries(only)
    ]
