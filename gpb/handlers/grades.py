"""The grade snapshot: what Canvas says of each (assignment, student), kept current by grade events.

`grade_change` carries score and grade but not late or missing; `submission_*` carry late, missing
and posting but cannot tell an excused submission from an ungraded one. Each event updates the
fields it knows and keeps the rest. A `grade_change` with grade and score both null is excused or
removed: only the submission itself can say which, so it is read from Canvas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from gpb.handlers.courses import CourseSeen
from gpb.handlers.envelope import parse_canvas_time
from gpb.handlers.errors import CanvasNotConfigured
from gpb.handlers.eventlog import StoredEvent
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.messagebus import Handled, Handler, Unusable
from gpb.handlers.model import Submission
from gpb.handlers.ports import Canvas


@dataclass(frozen=True)
class GradeValue:
    """A grade as Canvas shows it."""

    score: float | None = None
    grade: str | None = None
    excused: bool = False
    missing: bool = False
    late: bool = False
    posted: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "grade": self.grade,
            "excused": self.excused,
            "missing": self.missing,
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


@dataclass(frozen=True)
class GradeStored:
    """A change: the grade's new value. The store keeps the newer of this and what it holds."""

    grade: Grade


class GradeStore(Protocol):
    async def grade(self, course_id: str, assignment_id: str, user_id: str) -> Grade | None: ...

    async def grades(self, course_id: str) -> list[Grade]: ...


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


def _time_ms(event: StoredEvent) -> int:
    return int(event.event_time.timestamp() * 1000) if event.event_time else 0


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_time(value: object) -> datetime | None:
    try:
        return parse_canvas_time(value) if value else None
    except ValueError:
        return None


@dataclass
class GradeEvents:
    canvas: Canvas
    grades: GradeStore

    def registry(self) -> dict[str, Handler]:
        return {
            "grade_change": self.on_grade_change,
            "submission_created": self.on_submission,
            "submission_updated": self.on_submission,
        }

    async def _current(self, event: StoredEvent, body: Mapping[str, Any]) -> tuple[Grade, bool]:
        """The stored grade this event is about (or a blank one), and whether the event is stale."""
        course_id = event.course_id
        assignment_id = local_id_or_none(body.get("assignment_id"))
        user_id = local_id_or_none(body.get("student_id") or body.get("user_id"))
        if course_id is None or assignment_id is None or user_id is None:
            raise Unusable("the event does not name its course, assignment and student")
        stored = await self.grades.grade(course_id, assignment_id, user_id)
        if stored is None:
            return Grade(course_id, assignment_id, user_id, GradeValue(posted=True)), False
        return stored, stored.state_time_ms > _time_ms(event)

    async def on_grade_change(self, event: StoredEvent) -> Handled:
        body = event.body
        current, stale = await self._current(event, body)
        if stale:
            return Handled(outcome={"stale": True})
        score, grade = _number(body.get("score")), _text(body.get("grade"))
        error = None
        excused = False
        if score is None and grade is None:
            try:
                excused = await self._excused(current)
            except CanvasNotConfigured as exc:
                # Canvas's own hint: an excused submission counts as graded, a cleared one not.
                excused = body.get("grading_complete") is True
                error = {"code": exc.code, "message": exc.message}
        value = replace(
            current.value,
            score=score,
            grade=grade,
            excused=excused,
            missing=current.value.missing and not excused and score is None,
            posted=(not body["muted"])
            if isinstance(body.get("muted"), bool)
            else current.value.posted,
        )
        updated = replace(
            current,
            value=value,
            student_sis_id=_text(body.get("student_sis_id")) or current.student_sis_id,
            graded_at=event.event_time or current.graded_at,
            state_time_ms=_time_ms(event),
        )
        return _stored(event, current, updated, error)

    async def on_submission(self, event: StoredEvent) -> Handled:
        body = event.body
        current, stale = await self._current(event, body)
        if stale:
            return Handled(outcome={"stale": True})
        score, grade = _number(body.get("score")), _text(body.get("grade"))
        # A null score here is "ungraded" or "excused"; only grade_change tells excused apart.
        excused = current.value.excused and score is None and grade is None
        value = replace(
            current.value,
            score=score,
            grade=grade,
            excused=excused,
            missing=bool(body.get("missing")) and not excused,
            late=bool(body.get("late")),
            posted=body.get("posted_at") is not None
            if "posted_at" in body
            else current.value.posted,
        )
        updated = replace(
            current,
            value=value,
            graded_at=_optional_time(body.get("graded_at")) or current.graded_at,
            state_time_ms=_time_ms(event),
        )
        return _stored(event, current, updated, None)

    async def _excused(self, grade: Grade) -> bool:
        submission = await self.canvas.get_submission(
            grade.course_id, grade.assignment_id, grade.user_id
        )
        return submission is not None and submission.excused


def _stored(
    event: StoredEvent, before: Grade, after: Grade, error: dict[str, Any] | None
) -> Handled:
    outcome = {
        "assignment_id": after.assignment_id,
        "student_id": after.user_id,
        "before": before.value.as_json(),
        "after": after.value.as_json(),
    }
    changes = (CourseSeen(after.course_id, event.shard), GradeStored(after))
    return Handled(outcome=outcome, changes=changes, error=error)
