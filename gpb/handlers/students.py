"""Students' names, kept current when Canvas says a user changed.

Enrollments bring each student's name as Canvas sorts it ("Rivera, Ana"), so that a teacher reads
whose grade it is. A `user_updated` event carries the user's display name but not the sortable
one, so gpb reads the user again from Canvas, and only for a student of a course it knows. Names
are student data: they go to the course's pages and API, never to logs or event outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gpb.handlers.errors import CanvasNotConfigured
from gpb.handlers.event_bodies import UserBody
from gpb.handlers.eventlog import EventStatus
from gpb.handlers.messagebus import Event, Handled
from gpb.handlers.model import Enrollment
from gpb.handlers.ports import Canvas, StudentDirectory


@dataclass(frozen=True)
class StudentRenamed:
    """A change: the student's sortable name, in every course gpb holds them in."""

    user_id: str
    sortable_name: str


@dataclass
class StudentNames:
    canvas: Canvas
    students: StudentDirectory

    async def on_user_updated(self, event: Event[UserBody]) -> Handled:
        user_id = event.body.user_id
        if not await self.students.is_student(user_id):
            return Handled(EventStatus.IGNORED, {"reason": "not a student of a course gpb holds"})
        try:
            name = await self.canvas.get_sortable_name(user_id)
        except CanvasNotConfigured as exc:
            return Handled(outcome={"renamed": 0}, error={"code": exc.code, "message": exc.message})
        if name is None:  # Canvas no longer has the user: the name gpb holds stays
            return Handled(outcome={"renamed": 0})
        return Handled(outcome={"renamed": 1}, changes=(StudentRenamed(user_id, name),))


@dataclass(frozen=True)
class Roster:
    """Who each student of a course is, by Canvas user id, for what lists only ids."""

    names: Mapping[str, str]
    sis_ids: Mapping[str, str]

    @classmethod
    def of(cls, enrollments: Iterable[Enrollment]) -> Roster:
        names: dict[str, str] = {}
        sis_ids: dict[str, str] = {}
        for enrollment in enrollments:
            if enrollment.sortable_name:
                names[enrollment.user_id] = enrollment.sortable_name
            if enrollment.sis_user_id:
                sis_ids[enrollment.user_id] = enrollment.sis_user_id
        return cls(names, sis_ids)
