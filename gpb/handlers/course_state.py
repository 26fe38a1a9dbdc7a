"""What gpb holds of a course between events: Canvas's objects as last read, and the verdicts.

Events say that something changed, not everything it now is; handlers re-read from Canvas the
object an event is about and keep the rest of the course here, so one event costs one or two
Canvas calls rather than a whole course.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gpb.handlers.eligibility import Violation
from gpb.handlers.model import Assignment, AssignmentGroup, Course, Enrollment, Section


@dataclass(frozen=True)
class AssignmentRecord:
    assignment: Assignment
    violations: tuple[Violation, ...]
    eligible: bool
    state_time_ms: int  # event_time of the newest event applied: older events are stale

    @property
    def sync_enabled(self) -> bool:
        return self.assignment.post_to_sis and not self.assignment.deleted

    @property
    def error_codes(self) -> tuple[str, ...]:
        """The codes of the rules it breaks, in order (warnings never block)."""
        return tuple(v.code for v in self.violations if v.severity == "error")


@dataclass(frozen=True)
class CourseState:
    course_id: str
    course: Course | None = None
    course_time_ms: int = 0
    sections: tuple[Section, ...] = ()
    groups: tuple[AssignmentGroup, ...] = ()
    enrollments: tuple[Enrollment, ...] = ()
    assignments: Mapping[str, AssignmentRecord] = field(default_factory=dict)
    # Sections, groups, enrollments and assignments were read whole from Canvas at least once.
    loaded: bool = False


# Changes, applied by the store in the transaction that finishes the event.


@dataclass(frozen=True)
class CourseStored:
    course: Course
    shard: int | None
    state_time_ms: int


@dataclass(frozen=True)
class SectionsStored:
    course_id: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class GroupsStored:
    course_id: str
    groups: tuple[AssignmentGroup, ...]


@dataclass(frozen=True)
class EnrollmentsStored:
    course_id: str
    enrollments: tuple[Enrollment, ...]


@dataclass(frozen=True)
class AssignmentStored:
    record: AssignmentRecord
