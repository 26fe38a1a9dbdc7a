"""Canvas's grading rules, as far as a grade entered through the control API needs them.

A test says "student 1201 got 9.5" or "excused"; Canvas derives the rest (the grade string from the
grading type, `workflow_state`, `graded_at`, `posted_at`, cleared flags), and gpb reads that result.
Doing the derivation here keeps tests short and the sandbox's submissions shaped like real ones
(canvas-rest.md section 5).
"""

from __future__ import annotations

from typing import Any

from gpb.infra.sandbox.state import Assignment, Submission, utc_now

# Canvas's default grading scheme: the lowest percentage of each letter.
_LETTERS = (
    ("A", 94.0),
    ("A-", 90.0),
    ("B+", 87.0),
    ("B", 84.0),
    ("B-", 80.0),
    ("C+", 77.0),
    ("C", 74.0),
    ("C-", 70.0),
    ("D+", 67.0),
    ("D", 64.0),
    ("D-", 61.0),
    ("F", 0.0),
)


def _number(value: float) -> str:
    """9.0 -> "9", 9.5 -> "9.5": Canvas writes whole numbers without ".0"."""
    rounded = round(value, 2)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def grade_for(score: float | None, assignment: Assignment) -> str | None:
    """The grade string Canvas derives from a score (`score_to_grade`)."""
    if score is None or assignment.grading_type == "not_graded":
        return None
    points = assignment.points_possible or 0.0
    percent = score / points * 100 if points else 0.0
    match assignment.grading_type:
        case "points":
            return _number(score)
        case "percent":
            return _number(percent) + "%"
        case "pass_fail":
            return "complete" if score > 0 or points == 0 else "incomplete"
        case _:
            return next(letter for letter, floor in _LETTERS if percent >= floor)


def apply_grade(
    submission: Submission, assignment: Assignment, change: dict[str, Any]
) -> Submission:
    """The submission after a teacher's change, with what Canvas derives from it.

    `change` may hold `score` (null removes the grade), `grade` (else derived), `excused`, `posted`
    (false keeps the grade hidden), `graded_at`, and any plain submission field (`missing`, `late`,
    `late_policy_status`, `seconds_late`, `submitted_at`, ...).
    """
    change = dict(change)
    now = utc_now()
    posted = change.pop("posted", None)
    data = submission.model_dump(exclude_unset=True) | change
    graded_now = False
    if change.get("excused"):
        data.update(score=None, grade=None, late=False, missing=False, late_policy_status=None)
        graded_now = True
    elif "score" in change:
        data["excused"] = False
        if change["score"] is None:
            data["grade"] = None
            data["workflow_state"] = "submitted" if data.get("submitted_at") else "unsubmitted"
        else:
            graded_now = True
            if "grade" not in change:
                data["grade"] = grade_for(float(change["score"]), assignment)
    if graded_now:
        data["workflow_state"] = "graded"
        if "graded_at" not in change:
            data["graded_at"] = now
        if submission.posted_at is None and posted is None:
            posted = True
    if posted is not None:
        data["posted_at"] = (submission.posted_at or now) if posted else None
    return Submission.model_validate(data)
