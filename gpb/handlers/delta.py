"""The pending delta: every grade whose value for IC differs from what IC last confirmed.

One entry per (assignment, student, section) of a sync-enabled assignment — a student in two
sections has a result in each section's IC class the assignment is given to. The delta is derived,
never stored: it shrinks back by itself when a value returns to what IC holds.

gpb never deletes a result because the student's enrollment ended (dropped, concluded,
deactivated, or everyone once the term is over): IC keeps its own records of withdrawn students. A
result is deleted only when Canvas removed the grade of a student still enrolled in the section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from gpb.handlers.course_state import AssignmentRecord, CourseState
from gpb.handlers.grades import Grade, GradeValue, SentValue, sent_value

STUDENT_WITHOUT_SIS_ID = "STUDENT_WITHOUT_SIS_ID"
SECTION_WITHOUT_SIS_ID = "SECTION_WITHOUT_SIS_ID"
ASSIGNMENT_INELIGIBLE = "ASSIGNMENT_INELIGIBLE"
UNPOSTED_HELD = "UNPOSTED_HELD"

REMOVED = GradeValue(score=None, grade=None, excused=False, missing=False, late=False)


@dataclass(frozen=True)
class Confirmed:
    """What IC confirmed for one result: the value, and which run wrote it."""

    assignment_id: str
    section_id: str
    user_id: str
    value: SentValue
    confirmed_at: datetime


@dataclass(frozen=True)
class PendingEntry:
    assignment_id: str
    student_id: str
    student_sis_id: str | None
    section_id: str
    section_sis_id: str | None
    canvas: GradeValue
    wanted: SentValue | None  # None: the result is to be deleted from IC
    synced: SentValue | None
    changed_at: datetime | None
    blocked_by: tuple[str, ...]
    student_name: str | None = None


def blocking_codes(
    record: AssignmentRecord,
    section_sis_id: str | None,
    student_sis_id: str | None,
    held: bool = False,
) -> tuple[str, ...]:
    """The error codes that keep one grade from IC (warnings never block); `held`: a grade
    Canvas has not posted, under GPB_UNPOSTED_GRADES=hold."""
    codes = list(record.error_codes)
    if section_sis_id is None:
        codes.append(SECTION_WITHOUT_SIS_ID)
    if student_sis_id is None:
        codes.append(STUDENT_WITHOUT_SIS_ID)
    if held:
        codes.append(UNPOSTED_HELD)
    return tuple(dict.fromkeys(codes))


def _posted(grade: Grade | None) -> bool:
    return grade is None or grade.value.posted


def _changed_at(grade: Grade | None) -> datetime | None:
    if grade is None or grade.state_time_ms <= 0:
        return None
    return datetime.fromtimestamp(grade.state_time_ms / 1000, UTC)


def pending_entries(
    state: CourseState,
    grades: Iterable[Grade],
    confirmed: Iterable[Confirmed],
    assignment_ids: Iterable[str] | None = None,
    *,
    hold_unposted: bool = False,
) -> list[PendingEntry]:
    """The delta of the course (or of the given assignments), ordered by assignment, section,
    student. With `hold_unposted`, a grade Canvas has not posted is pending but held."""
    by_grade: Mapping[tuple[str, str], Grade] = {(g.assignment_id, g.user_id): g for g in grades}
    by_result: Mapping[tuple[str, str, str], Confirmed] = {
        (c.assignment_id, c.section_id, c.user_id): c for c in confirmed
    }
    section_sis = {s.id: s.sis_section_id for s in state.sections}
    wanted_ids = set(assignment_ids) if assignment_ids is not None else None
    entries = []
    for record in state.assignments.values():
        assignment_id = record.assignment.id
        if not record.sync_enabled or (wanted_ids is not None and assignment_id not in wanted_ids):
            continue
        for enrollment in state.enrollments:
            # Only the classes of the sections the assignment is given to get its grades.
            if not enrollment.receives_grades or not record.assignment.given_to(
                enrollment.section_id
            ):
                continue
            grade = by_grade.get((assignment_id, enrollment.user_id))
            done = by_result.get((assignment_id, enrollment.section_id, enrollment.user_id))
            wanted = sent_value(grade.value if grade else None)
            synced = done.value if done else None
            if wanted == synced or (wanted is None and not enrollment.current):
                continue  # an ended enrollment's result stays in IC (a run reports it kept)
            student_sis = enrollment.sis_user_id or (grade.student_sis_id if grade else None)
            entries.append(
                PendingEntry(
                    assignment_id=assignment_id,
                    student_id=enrollment.user_id,
                    student_sis_id=student_sis,
                    section_id=enrollment.section_id,
                    section_sis_id=section_sis.get(enrollment.section_id),
                    canvas=grade.value if grade else REMOVED,
                    wanted=wanted,
                    synced=synced,
                    changed_at=_changed_at(grade),
                    blocked_by=blocking_codes(
                        record,
                        section_sis.get(enrollment.section_id),
                        student_sis,
                        held=hold_unposted and wanted is not None and not _posted(grade),
                    ),
                    student_name=enrollment.sortable_name,
                )
            )
    entries.sort(key=lambda e: (int(e.assignment_id), int(e.section_id), int(e.student_id)))
    return entries
