"""Every event gpb handles: its name, the model its body is read into, and its handler.

Names are written out whole, so that searching for one finds its handler. To handle a new event:
a model of what its handler reads in the body (`event_bodies.py`), a handler taking an
`Event[ThatBody]` and returning `Handled`, and one line here. An event named nowhere here is
recorded as ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpb.handlers.event_bodies import (
    AnyBody,
    AssignmentBody,
    EnrollmentBody,
    FixBody,
    GradeChangeBody,
    SubmissionBody,
    UserBody,
)
from gpb.handlers.grades import GradeEvents
from gpb.handlers.messagebus import Handler, Route
from gpb.handlers.rechecks import Rechecks
from gpb.handlers.students import StudentNames


@dataclass(frozen=True)
class EventHandlers:
    """The objects whose methods handle events, with their dependencies (built by the bootstrap)."""

    rechecks: Rechecks
    grades: GradeEvents
    students: StudentNames


def event_handlers(h: EventHandlers) -> dict[str, Handler]:
    # Typed as plain handlers, not Route[Any]: that context would let mypy take any body model
    # for any handler, where now a Route whose model is not its handler's body fails the check.
    return {
        "assignment_created": Route(AssignmentBody, h.rechecks.on_assignment),
        "assignment_updated": Route(AssignmentBody, h.rechecks.on_assignment),
        "assignment_override_created": Route(AssignmentBody, h.rechecks.on_assignment),
        "assignment_override_updated": Route(AssignmentBody, h.rechecks.on_assignment),
        "assignment_group_created": Route(AnyBody, h.rechecks.on_groups),
        "assignment_group_updated": Route(AnyBody, h.rechecks.on_groups),
        "course_created": Route(AnyBody, h.rechecks.on_course),
        "course_updated": Route(AnyBody, h.rechecks.on_course),
        "course_section_created": Route(AnyBody, h.rechecks.on_sections),
        "course_section_updated": Route(AnyBody, h.rechecks.on_sections),
        "enrollment_created": Route(EnrollmentBody, h.rechecks.on_enrollment),
        "enrollment_updated": Route(EnrollmentBody, h.rechecks.on_enrollment),
        "gpb_fix": Route(FixBody, h.rechecks.on_fix),  # fixes.py records a fix it made in Canvas
        "grade_change": Route(GradeChangeBody, h.grades.on_grade_change),
        "submission_created": Route(SubmissionBody, h.grades.on_submission),
        "submission_updated": Route(SubmissionBody, h.grades.on_submission),
        "user_updated": Route(UserBody, h.students.on_user_updated),
    }
