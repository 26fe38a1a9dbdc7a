"""What gpb knows of Canvas and Infinite Campus, as plain values.

Ids are Canvas *local* ids as strings (docs/api.md, "Conventions"). The adapters in infra/ build
these from REST answers; the handlers never see JSON from outside systems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal


class OverrideTarget(StrEnum):
    SECTION = "section"
    STUDENTS = "students"
    GROUP = "group"
    # Canvas's course-level override ("Everyone" in the Assign To tray): it dates everyone.
    COURSE = "course"


@dataclass(frozen=True)
class Override:
    id: str
    target: OverrideTarget
    # Canvas sends `due_at` only when the override sets it: `due_at_set` tells "no date" from
    # "not overridden".
    due_at: datetime | None = None
    due_at_set: bool = False
    section_id: str | None = None
    # Likewise the available-from date: Canvas's "Everyone" override carries it in the Assign To
    # tray, where the assignment's own `unlock_at` stays empty.
    unlock_at: datetime | None = None
    unlock_at_set: bool = False
    student_ids: tuple[str, ...] = ()
    group_id: str | None = None


@dataclass(frozen=True)
class Assignment:
    id: str
    course_id: str
    title: str
    published: bool
    post_to_sis: bool
    assignment_group_id: str | None
    due_at: datetime | None = None
    unlock_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    points_possible: float | None = None
    grading_type: str = "points"
    omit_from_final_grade: bool = False
    only_visible_to_overrides: bool = False
    # Canvas's `visible_to_everyone`; None when Canvas did not say. False with no override of
    # the assignment's own to explain it: given to some students through its module.
    visible_to_everyone: bool | None = None
    deleted: bool = False
    overrides: tuple[Override, ...] = ()

    def given_to(self, section_id: str) -> bool:
        """Whether the section's students get the assignment: all sections do, unless it is given
        only to its override targets, and then only sections with an override of their own, or
        every section when Canvas's course-level ("Everyone") override is among them."""
        if not self.only_visible_to_overrides:
            return True
        return any(
            o.target is OverrideTarget.COURSE
            or (o.target is OverrideTarget.SECTION and o.section_id == section_id)
            for o in self.overrides
        )


@dataclass(frozen=True)
class AssignmentChange:
    """What a fix changes in an assignment; None leaves a field as it is."""

    name: str | None = None
    published: bool | None = None
    due_at: datetime | None = None
    assignment_group_id: str | None = None


@dataclass(frozen=True)
class AssignmentGroup:
    id: str
    course_id: str
    name: str


@dataclass(frozen=True)
class Course:
    id: str
    name: str
    workflow_state: str
    sis_course_id: str | None = None

    @property
    def published(self) -> bool:
        # A concluded course (`completed`) is still published: teachers finish grades after the
        # term ends, and its grades must still reach IC.
        return self.workflow_state in ("available", "completed")


@dataclass(frozen=True)
class Section:
    id: str
    course_id: str
    name: str
    sis_section_id: str | None
    student_count: int


# Canvas enrollment states (`enrollment_state`) gpb reads. A student absent from every one of them
# (deleted, rejected, not yet created) has left the section.
CURRENT_STATES = ("active", "invited")
LISTED_STATES = (*CURRENT_STATES, "completed", "inactive")


@dataclass(frozen=True)
class Enrollment:
    """A student's place in a section (a student in two sections has two), in any state gpb
    reads: `completed` when the student or the course was concluded, `inactive` when deactivated."""

    user_id: str
    section_id: str
    sis_user_id: str | None
    state: str = "active"
    sortable_name: str | None = None  # "Rivera, Ana": student data, never logged

    @property
    def current(self) -> bool:
        """Still enrolled: gpb may delete a result of this student whose grade Canvas removed."""
        return self.state in CURRENT_STATES

    @property
    def receives_grades(self) -> bool:
        """Grades go to IC: a concluded enrollment still does, as teachers finish grades after
        the term; a deactivated student's do not."""
        return self.current or self.state == "completed"


@dataclass(frozen=True)
class Submission:
    assignment_id: str
    user_id: str
    score: float | None
    grade: str | None
    excused: bool
    missing: bool
    late: bool
    posted: bool
    graded_at: datetime | None = None


@dataclass(frozen=True)
class IcTerm:
    """An IC academic session: a term of a class, or one of its grading periods."""

    sourced_id: str
    title: str
    start_date: date
    end_date: date  # OneRoster end dates are exclusive
    kind: str = "term"  # OneRoster's `type`: term, semester, schoolYear, gradingPeriod

    def contains(self, day: date) -> bool:
        return self.start_date <= day < self.end_date


@dataclass(frozen=True)
class IcClass:
    sourced_id: str
    title: str
    school_id: str
    terms: tuple[IcTerm, ...] = field(default=())
    # The grading periods of those terms (a class's term may itself be one), in date order.
    grading_periods: tuple[IcTerm, ...] = field(default=())


@dataclass(frozen=True)
class IcCategory:
    sourced_id: str
    title: str


@dataclass(frozen=True)
class LineItem:
    """An IC line item gpb upserts for one (assignment, section)."""

    sourced_id: str
    title: str
    assign_date: datetime
    due_date: datetime
    class_id: str
    school_id: str
    category_id: str
    result_value_max: float | None
    grading_period_id: str | None = None  # the class's grading period holding the due date


RecordKind = Literal["lineItem", "result"]


@dataclass(frozen=True)
class IcRecord:
    """A line item or result exactly as IC answered it, and what gpb reads in it: putting `body`
    back restores the record as it was."""

    kind: RecordKind
    sourced_id: str
    body: dict[str, Any]
    value: LineItem | Result


@dataclass(frozen=True)
class Result:
    """An IC result gpb upserts for one (assignment, section, student)."""

    sourced_id: str
    line_item_id: str
    student_sis_id: str
    score: float | None
    score_status: str  # "fully graded", "exempt" or "not submitted"
    score_date: date
    late: bool
    missing: bool
