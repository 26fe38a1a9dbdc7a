"""What gpb reads in the body of each event it handles, as one pydantic model per body.

The worker reads a stored event's body into its model just before the handler runs (never at
ingest: the body is stored as it came, and a 202 waits for nothing more). A model refuses only
what its handler cannot do without, an id; everything else is read as leniently as Canvas's
bodies vary (a score sent as text, a flag left out, a timestamp gpb cannot read), so an odd value
costs that value and never the event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from gpb.handlers.envelope import parse_canvas_time
from gpb.handlers.ids import local_id_or_none


def _canvas_id(value: object) -> str:
    local = local_id_or_none(value)
    if local is None:
        raise ValueError("not a Canvas id")
    return local


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _title(value: object) -> str:
    return str(value or "")


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _is_true(value: object) -> bool:
    return value is True


def _time(value: object) -> datetime | None:
    try:
        return parse_canvas_time(value) if value else None
    except ValueError:
        return None


CanvasId = Annotated[str, BeforeValidator(_canvas_id)]  # local; a global id is read as its local
OptionalId = Annotated[str | None, BeforeValidator(local_id_or_none)]
Number = Annotated[float | None, BeforeValidator(_number)]
Text = Annotated[str | None, BeforeValidator(_text)]
Flag = Annotated[bool | None, BeforeValidator(_flag)]  # None: the body does not say
Time = Annotated[datetime | None, BeforeValidator(_time)]


class Body(BaseModel):
    """A body as its handler reads it; fields it does not name are left in the stored event."""

    model_config = ConfigDict(frozen=True)


class AnyBody(Body):
    """A body the handler reads nothing of: the event itself says what to read again."""


class AssignmentBody(Body):
    """assignment_* and assignment_override_*: which assignment to read again from Canvas."""

    assignment_id: CanvasId
    workflow_state: Text = None
    # Kept for an assignment Canvas deleted before gpb read it.
    title: Annotated[str, BeforeValidator(_title)] = ""

    @property
    def deleted(self) -> bool:
        return self.workflow_state == "deleted"


class EnrollmentBody(Body):
    """enrollment_*: only a student's enrollment moves grades. A body without `type` is taken
    for a student's."""

    type: Text = "StudentEnrollment"

    @property
    def of_student(self) -> bool:
        return self.type == "StudentEnrollment"


class FixBody(Body):
    """gpb_fix, the record of a change gpb made in Canvas: what to read again after it."""

    assignment_id: OptionalId = None  # None for a fix of the assignment groups
    outcome: Text = None  # applied, refused or uncertain
    refresh: Text = None  # "groups" after a fix of the groups, else the assignment


class GradeBody(Body):
    """What grade_change and submission_* both say: whose grade of which assignment, and what."""

    assignment_id: CanvasId
    # grade_change names the student `student_id`, the submission events `user_id`.
    student_id: CanvasId = Field(description="student_id or user_id")
    score: Number = None
    grade: Text = None

    @model_validator(mode="before")
    @classmethod
    def _student(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("student_id"):
            return data
        return {**data, "student_id": data.get("user_id")}


class GradeChangeBody(GradeBody):
    # Canvas's own hint when a null grade cannot be told excused from removed: an excused
    # submission counts as graded, a removed grade does not.
    grading_complete: Annotated[bool, BeforeValidator(_is_true)] = False
    muted: Flag = None
    student_sis_id: Text = None


class SubmissionBody(GradeBody):
    missing: Flag = None
    late: Flag = None
    posted_at: object = None  # read only as "posted or not", through `posted`
    graded_at: Time = None

    @property
    def posted(self) -> bool | None:
        """Whether the grade is posted to the student; None when the body does not say."""
        return self.posted_at is not None if "posted_at" in self.model_fields_set else None


class UserBody(Body):
    """user_updated: whose name to read again."""

    user_id: CanvasId
