"""The dates IC gets for an assignment in a section, and the IC sessions they fall in.

One place for what the rules check and what a sync sends, so a warning about a date is about the
date IC will receive:
- the due date of a section: its section override's, Canvas's course-level ("Everyone") override's
  or the assignment's own, as Canvas applies them to a student of that section;
- the assign date: the section's available-from date (same overrides as the due date), else the
  creation time, but never after the due date (IC, like other OneRoster gradebooks, refuses an
  assignment assigned after it is due);
- the IC sessions of a class a date must fall in: its grading periods when it has some (IC files
  assignments by grading period), else its terms, each placed by the date in the district's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, tzinfo

from gpb.handlers.model import Assignment, IcClass, IcTerm, Override, OverrideTarget


def _reaches(override: Override, section_id: str) -> bool:
    if override.target is OverrideTarget.COURSE:
        return True
    return override.target is OverrideTarget.SECTION and override.section_id == section_id


def _most_lenient(
    dated: list[datetime | None],
    own: datetime | None,
    pick: Callable[[Iterable[datetime]], datetime],
) -> datetime | None:
    """Of the dates the overrides reaching a section set: none set, the assignment's `own`; one
    set to nothing beats any date; else `pick` of them (the latest due, the earliest unlock)."""
    if not dated:
        return own
    if any(d is None for d in dated):
        return None
    return pick(d for d in dated if d is not None)


def section_due_at(assignment: Assignment, section_id: str) -> datetime | None:
    """The due date of the students of `section_id`.

    Canvas (AssignmentOverrideApplicator) applies every override that reaches a student and keeps
    the most lenient date: none at all beats any date, else the latest. The assignment's own date
    applies only when no override dates the student. An override that sets no due date leaves
    its targets on the other dates; one that sets it to nothing takes the date away.
    """
    dated = [
        o.due_at
        for o in assignment.overrides
        if (o.due_at_set or o.due_at is not None) and _reaches(o, section_id)
    ]
    return _most_lenient(dated, assignment.due_at, max)


def section_unlock_at(assignment: Assignment, section_id: str) -> datetime | None:
    """The available-from date of the students of `section_id`, the most lenient (earliest, none
    beating any) of the overrides that set one, else the assignment's own."""
    dated = [
        o.unlock_at
        for o in assignment.overrides
        if (o.unlock_at_set or o.unlock_at is not None) and _reaches(o, section_id)
    ]
    return _most_lenient(dated, assignment.unlock_at, min)


def assign_date(assignment: Assignment, section_id: str, due: datetime | None) -> datetime | None:
    """When the section is given the assignment: its available-from date, else the assignment's
    creation, never after `due`."""
    start = section_unlock_at(assignment, section_id) or assignment.created_at
    if start is None or due is None:
        return start or due
    return min(start, due)


def local_day(moment: datetime, tz: tzinfo) -> date:
    """The date of `moment` in the district's zone. A naive time is read as UTC, the zone Canvas
    answers in, never as the server's own zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).date()


def in_district_zone(moment: datetime, tz: tzinfo) -> datetime:
    """`moment` with the district's offset, so a reader keeping only the date gets the teacher's."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def class_sessions(ic_class: IcClass) -> tuple[IcTerm, ...]:
    """The sessions a date of the class must fall in: its grading periods, else its terms."""
    return ic_class.grading_periods or ic_class.terms


def session_containing(sessions: Iterable[IcTerm], moment: datetime, tz: tzinfo) -> IcTerm | None:
    day = local_day(moment, tz)
    return next((s for s in sessions if s.contains(day)), None)


def grading_period_of(ic_class: IcClass, due: datetime, tz: tzinfo) -> IcTerm | None:
    """The class's grading period holding the due date, which files the line item in IC."""
    return session_containing(ic_class.grading_periods, due, tz)
