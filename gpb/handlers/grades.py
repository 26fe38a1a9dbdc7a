"""The grade snapshot: what Canvas says of each (assignment, student), kept current by grade events.

`grade_change` carries score and grade but not late or missing; `submission_*` carry late, missing
and posting but cannot tell an excused submission from an ungraded one. Each event updates the
fields it knows and keeps the rest. A `grade_change` with grade and score both null is excused or
removed: only the submission itself can say which, so it is read from Canvas.

Events come out of order (Canvas sends the `grade_change` and the `submission_updated` of one
grading milliseconds apart, over different connections), so each field keeps the event_time of
the event that set it, and an event sets only the fields no newer event has set: whatever the
order of arrival, each field ends with what the newest event about it said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from gpb.handlers.course_state import CourseState
from gpb.handlers.courses import CourseSeen
from gpb.handlers.errors import CanvasNotConfigured
from gpb.handlers.event_bodies import GradeBody, GradeChangeBody, SubmissionBody
from gpb.handlers.messagebus import Event, Handled, Unusable
from gpb.handlers.model import Result, Submission
from gpb.handlers.ports import Canvas, GradeStore

if TYPE_CHECKING:  # grade changes, defined here, are members of the union
    from gpb.handlers.changes import Change


@dataclass(frozen=True)
class GradeChanged:
    """A change: a grade of the course changed when gpb received this event (automatic syncs
    after a change wait for the course's grading to pause)."""

    course_id: str
    at: datetime


@dataclass(frozen=True)
class GradeValue:
    """A grade as Canvas shows it."""

    score: float | None = None
    grade: str | None = None
    excused: bool = False
    missing: bool = False
    late: bool = False
    posted: bool = True

    @property
    def shown_missing(self) -> bool:
        """Missing as gpb shows and keeps it: an excused grade is never missing."""
        return self.missing and not self.excused

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "grade": self.grade,
            "excused": self.excused,
            "missing": self.shown_missing,
            "late": self.late,
            "posted": self.posted,
        }


@dataclass(frozen=True)
class SentValue:
    """The part of a grade that goes to IC; what IC confirmed is kept in this form."""

    score: float | None
    excused: bool
    missing: bool
    late: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "excused": self.excused,
            "missing": self.missing,
            "late": self.late,
        }


def ic_value(result: Result) -> SentValue:
    """What IC holds for a result, in the form gpb keeps its confirmations in."""
    return SentValue(result.score, result.score_status == "exempt", result.missing, result.late)


def sent_value(value: GradeValue | None) -> SentValue | None:
    """What IC should hold for this grade; None when nothing is to be sent (no score, and neither
    excused nor missing — an ungraded or removed grade)."""
    if value is None:
        return None
    if value.excused:
        return SentValue(None, True, False, value.late)
    if value.score is None and not value.missing:
        return None
    return SentValue(value.score, False, value.missing, value.late)


@dataclass(frozen=True)
class Grade:
    course_id: str
    assignment_id: str
    user_id: str
    value: GradeValue
    student_sis_id: str | None = None
    graded_at: datetime | None = None
    state_time_ms: int = 0  # event_time of the newest event applied (Canvas reads: read time)
    # The event_time of the event that set each field, for those set before state_time_ms.
    field_times: Mapping[str, int] = field(default_factory=dict)

    def time_of(self, name: str) -> int:
        return self.field_times.get(name, self.state_time_ms)

    def get(self, name: str) -> object:
        return getattr(self.value if name in VALUE_FIELDS else self, name)


# What events set, field by field. `missing` is kept as Canvas says it: an excused grade is never
# missing, which `GradeValue.as_json` and `sent_value` apply when they read it.
VALUE_FIELDS = ("score", "grade", "excused", "missing", "late", "posted")
FIELDS = (*VALUE_FIELDS, "graded_at", "student_sis_id")


def with_fields(grade: Grade, fields: Mapping[str, tuple[object, int]]) -> Grade:
    """`grade` with each field set to its (value, event time), unless a newer event set it."""
    newer = {name: pair for name, pair in fields.items() if pair[1] >= grade.time_of(name)}
    if not newer:
        return grade
    times = {name: grade.time_of(name) for name in FIELDS} | {n: t for n, (_, t) in newer.items()}
    state_time = max(grade.state_time_ms, *times.values())
    values = {name: value for name, (value, _) in newer.items() if name in VALUE_FIELDS}
    others = {name: value for name, (value, _) in newer.items() if name not in VALUE_FIELDS}
    return replace(
        grade,
        value=replace(grade.value, **values),  # type: ignore[arg-type]
        **others,  # type: ignore[arg-type]
        state_time_ms=state_time,
        field_times={name: t for name, t in times.items() if t != state_time},
    )


def merge(held: Grade, incoming: Grade) -> Grade:
    """What the store keeps of a grade it holds and a newer write of it: field by field, the value
    of the newer event (`incoming` on a tie), so the order of writes does not matter. A SIS id is
    never forgotten for want of one."""
    return with_fields(
        held,
        {
            name: (incoming.get(name), incoming.time_of(name))
            for name in FIELDS
            if not (name == "student_sis_id" and incoming.student_sis_id is None)
        },
    )


@dataclass(frozen=True)
class GradeStored:
    """A change: the grade's new value. The store keeps the newer of this and what it holds."""

    grade: Grade


def grade_from_submission(
    course_id: str, submission: Submission, sis_id: str | None, state_time_ms: int
) -> Grade:
    return Grade(
        course_id=course_id,
        assignment_id=submission.assignment_id,
        user_id=submission.user_id,
        value=GradeValue(
            score=submission.score,
            grade=submission.grade,
            excused=submission.excused,
            missing=submission.missing and not submission.excused,
            late=submission.late,
            posted=submission.posted,
        ),
        student_sis_id=sis_id,
        graded_at=submission.graded_at,
        state_time_ms=state_time_ms,
    )


async def read_grades(canvas: Canvas, state: CourseState, read_at_ms: int) -> list[Grade]:
    """Every grade of every eligible assignment of the course, as Canvas holds it now: what a
    remaster sends and a reconciliation compares, trusting no event."""
    eligible = [a for a, r in state.assignments.items() if r.eligible]
    if not eligible:
        return []
    sis_ids = {e.user_id: e.sis_user_id for e in state.enrollments}
    submissions = await canvas.list_submissions(state.course_id, eligible)
    return [
        grade_from_submission(state.course_id, s, sis_ids.get(s.user_id), read_at_ms)
        for s in submissions
    ]


@dataclass
class GradeEvents:
    canvas: Canvas
    grades: GradeStore

    async def _current(self, event: Event[GradeBody]) -> Grade:
        """The stored grade this event is about, or a blank one."""
        course_id, body = event.course_id, event.body
        if course_id is None:
            raise Unusable("the event names no course")
        stored = await self.grades.grade(course_id, body.assignment_id, body.student_id)
        return stored or Grade(
            course_id, body.assignment_id, body.student_id, GradeValue(posted=True)
        )

    async def on_grade_change(self, event: Event[GradeChangeBody]) -> Handled:
        body = event.body
        current = await self._current(event)
        score, grade = body.score, body.grade
        fields: dict[str, object] = {"score": score, "grade": grade, "graded_at": event.event_time}
        error = None
        excused = False
        # Canvas is asked only while no newer event has said whether the grade is excused.
        if score is None and grade is None and event.event_time_ms >= current.time_of("excused"):
            try:
                excused = await self._excused(current)
            except CanvasNotConfigured as exc:
                # Canvas's own hint: an excused submission counts as graded, a cleared one not.
                excused = body.grading_complete
                error = {"code": exc.code, "message": exc.message}
            fields["excused"] = excused
        elif score is not None or grade is not None:
            fields["excused"] = False
        if excused:
            fields["missing"] = False  # Canvas: an excused submission is never missing
        # A score does not clear `missing`: a submission marked missing keeps it when graded (the
        # missing-submission policy scores it too). Only the submission events say it.
        if body.muted is not None:
            fields["posted"] = not body.muted
        if body.student_sis_id:
            fields["student_sis_id"] = body.student_sis_id
        return _stored(event, current, fields, error)

    async def on_submission(self, event: Event[SubmissionBody]) -> Handled:
        body = event.body
        current = await self._current(event)
        fields: dict[str, object] = {"score": body.score, "grade": body.grade}
        # Field by field: a flag the event does not carry (compact payloads drop nulls) is left
        # as the newest event that carried it said.
        if body.missing is not None:
            fields["missing"] = body.missing
        if body.late is not None:
            fields["late"] = body.late
        # A null score here is "ungraded" or "excused"; only grade_change tells excused apart.
        if body.score is not None or body.grade is not None:
            fields["excused"] = False
        if body.posted is not None:
            fields["posted"] = body.posted
        if body.graded_at:
            fields["graded_at"] = body.graded_at
        return _stored(event, current, fields, None)

    async def _excused(self, grade: Grade) -> bool:
        submission = await self.canvas.get_submission(
            grade.course_id, grade.assignment_id, grade.user_id
        )
        return submission is not None and submission.excused


def _stored(
    event: Event[GradeBody],
    before: Grade,
    fields: Mapping[str, object],
    error: dict[str, Any] | None,
) -> Handled:
    time = event.event_time_ms
    if all(time < before.time_of(name) for name in fields):
        return Handled(outcome={"stale": True})  # newer events said all this event says
    after = with_fields(before, {name: (value, time) for name, value in fields.items()})
    outcome = {
        "assignment_id": after.assignment_id,
        "student_id": after.user_id,
        "before": before.value.as_json(),
        "after": after.value.as_json(),
    }
    changes: tuple[Change, ...] = (CourseSeen(after.course_id, event.shard), GradeStored(after))
    if after.value != before.value:
        changes += (GradeChanged(after.course_id, event.received_at),)
    return Handled(outcome=outcome, changes=changes, error=error)
