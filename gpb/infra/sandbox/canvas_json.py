"""The sandbox's Canvas records in the shapes the Canvas REST API answers with (canvas-rest.md).

Only the fields a grade-passback client could reasonably read are filled in, but those are shaped
and derived as Canvas does: dates as ISO-8601 UTC, override dates present only when overridden,
ids as JSON integers unless the client asks for strings (see `integer_ids`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gpb.infra.sandbox.state import (
    OVERRIDE_DATES,
    Assignment,
    AssignmentGroup,
    CanvasWorld,
    Checkpoint,
    Conversation,
    Course,
    Enrollment,
    Override,
    Roster,
    Section,
    Submission,
    User,
)

# The zone of the seeded course; Canvas derives an override's all-day date in it.
TIME_ZONE = "America/Chicago"

ROLE_IDS = {
    "StudentEnrollment": 3,
    "TeacherEnrollment": 4,
    "TaEnrollment": 5,
    "ObserverEnrollment": 7,
}

# Keys whose values Canvas answers as JSON numbers (or lists of them).
_ID_KEYS = frozenset(
    {
        "id",
        "account_id",
        "root_account_id",
        "enrollment_term_id",
        "course_id",
        "nonxlist_course_id",
        "course_section_id",
        "user_id",
        "assignment_id",
        "assignment_group_id",
        "group_id",
        "grader_id",
        "role_id",
        "student_ids",
        "audience",
    }
)


def integer_ids(data: Any) -> Any:
    """Numeric id strings as JSON integers, as Canvas answers by default.

    Canvas answers ids as strings only when asked with `Accept: application/json+canvas-string-ids`;
    the sandbox does the same, so a client that assumes either form is caught.
    """
    if isinstance(data, list):
        return [integer_ids(item) for item in data]
    if not isinstance(data, dict):
        return data
    converted: dict[str, Any] = {}
    for key, value in data.items():
        if key in _ID_KEYS and isinstance(value, str) and value.isdigit():
            converted[key] = int(value)
        elif key in _ID_KEYS and isinstance(value, list):
            converted[key] = [int(v) if isinstance(v, str) and v.isdigit() else v for v in value]
        else:
            converted[key] = integer_ids(value)
    return converted


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")


def course_json(course: Course) -> dict[str, Any]:
    return {
        "id": course.id,
        "name": course.name,
        "course_code": course.course_code,
        "workflow_state": course.workflow_state,
        "account_id": course.account_id,
        "root_account_id": course.root_account_id,
        "enrollment_term_id": "1",
        "start_at": iso(course.start_at),
        "end_at": iso(course.end_at),
        "sis_course_id": course.sis_course_id,
        "integration_id": None,
        "sis_import_id": None,
        "default_view": "modules",
        "time_zone": TIME_ZONE,
        "apply_assignment_group_weights": True,
        "hide_final_grades": False,
        "blueprint": False,
    }


def _override_title(override: Override, canvas: CanvasWorld) -> str:
    if override.title:
        return override.title
    if override.course_section_id is not None:
        section = canvas.sections.get(override.course_section_id)
        return section.name if section else f"Section {override.course_section_id}"
    if override.student_ids is not None:
        count = len(override.student_ids)
        return f"{count} student" + ("" if count == 1 else "s")
    if override.course_id is not None:
        return "Everyone"
    return f"Group {override.group_id}"


def override_json(
    override: Override, assignment: Assignment, canvas: CanvasWorld
) -> dict[str, Any]:
    """An AssignmentOverride: one target, and each date only when the override sets it."""
    data: dict[str, Any] = {
        "id": override.id,
        "assignment_id": assignment.id,
        "title": _override_title(override, canvas),
    }
    if override.student_ids is not None:
        data["student_ids"] = list(override.student_ids)
    elif override.group_id is not None:
        data["group_id"] = override.group_id
    elif override.course_id is not None:
        data["course_id"] = override.course_id
    else:
        data["course_section_id"] = override.course_section_id
    for name, value in override.overridden_dates().items():
        data[name] = iso(value)
        if name == "due_at":
            local = value.astimezone(ZoneInfo(TIME_ZONE)) if value else None
            data["all_day"] = bool(local and (local.hour, local.minute) == (23, 59))
            data["all_day_date"] = local.date().isoformat() if local else None
    return data


def _lenient(values: list[datetime | None], latest: bool) -> datetime | None:
    """Canvas's most lenient of several dates: none (no limit) wins, else the latest/earliest."""
    if any(value is None for value in values):
        return None
    dates = [value for value in values if value is not None]
    return max(dates) if latest else min(dates)


def _base_dates(assignment: Assignment) -> dict[str, datetime | None]:
    return {name: getattr(assignment, name) for name in OVERRIDE_DATES}


def caller_dates(assignment: Assignment) -> dict[str, datetime | None]:
    """The dates Canvas shows by default (`override_assignment_dates=true`) to an account admin.

    Such a caller sees every override, and Canvas collapses them with the base dates into the most
    lenient ones: the latest due date (none beats any), the earliest unlock, the latest lock. A
    client that wants the "Everyone" dates must pass `override_assignment_dates=false`.
    """
    base = _base_dates(assignment)
    if not assignment.overrides:
        return base
    candidates = [o.overridden_dates() for o in assignment.overrides]
    if not assignment.only_visible_to_overrides:
        candidates.append(base)
    collapsed = {}
    for name in OVERRIDE_DATES:
        values = [dates[name] for dates in candidates if name in dates]
        collapsed[name] = _lenient(values, latest=name != "unlock_at") if values else base[name]
    return collapsed


def _all_dates(assignment: Assignment, canvas: CanvasWorld) -> list[dict[str, Any]]:
    base = _base_dates(assignment)
    entries = []
    for override in assignment.overrides:
        dates = base | override.overridden_dates()
        entry: dict[str, Any] = {"id": override.id, "title": _override_title(override, canvas)}
        entry.update({name: iso(value) for name, value in dates.items()})
        entries.append(entry)
    if not assignment.only_visible_to_overrides:
        title = "Everyone else" if assignment.overrides else "Everyone"
        entry = {"base": True, "title": title}
        entry.update({name: iso(value) for name, value in base.items()})
        entries.append(entry)
    return entries


def assignment_json(
    assignment: Assignment,
    canvas: CanvasWorld,
    root: str,
    *,
    include: set[str],
    override_dates: bool,
) -> dict[str, Any]:
    dates = caller_dates(assignment) if override_dates else _base_dates(assignment)
    data: dict[str, Any] = {
        "id": assignment.id,
        "name": assignment.name,
        "description": assignment.description,
        "created_at": iso(assignment.created_at),
        "updated_at": iso(assignment.updated_at),
        "due_at": iso(dates["due_at"]),
        "unlock_at": iso(dates["unlock_at"]),
        "lock_at": iso(dates["lock_at"]),
        "has_overrides": bool(assignment.overrides),
        "course_id": assignment.course_id,
        "html_url": f"{root}/courses/{assignment.course_id}/assignments/{assignment.id}",
        "assignment_group_id": assignment.assignment_group_id,
        "position": assignment.position,
        "points_possible": assignment.points_possible,
        "grading_type": assignment.grading_type,
        "submission_types": list(assignment.submission_types),
        "published": assignment.published,
        "workflow_state": assignment.workflow_state,
        "unpublishable": True,
        "only_visible_to_overrides": assignment.only_visible_to_overrides,
        "visible_to_everyone": assignment.visible_to_everyone,
        "post_to_sis": assignment.post_to_sis,
        "integration_id": None,
        "integration_data": {},
        "max_name_length": 255,
        "due_date_required": False,
        "omit_from_final_grade": assignment.omit_from_final_grade,
        "hide_in_gradebook": False,
        "moderated_grading": False,
        "anonymous_grading": False,
        "post_manually": False,
        "in_closed_grading_period": False,
        "grading_standard_id": None,
        "group_category_id": None,
    }
    if "overrides" in include:
        data["overrides"] = [override_json(o, assignment, canvas) for o in assignment.overrides]
    if "all_dates" in include:
        data["all_dates"] = _all_dates(assignment, canvas)
    if "checkpoints" in include:
        # Canvas answers both only when asked for checkpoints.
        data["has_sub_assignments"] = bool(assignment.checkpoints)
        data["checkpoints"] = [
            _checkpoint_json(c, assignment, canvas) for c in assignment.checkpoints
        ]
    return data


def _checkpoint_json(
    checkpoint: Checkpoint, assignment: Assignment, canvas: CanvasWorld
) -> dict[str, Any]:
    return {
        "name": checkpoint.name,
        "tag": checkpoint.tag,
        "points_possible": checkpoint.points_possible,
        "due_at": iso(checkpoint.due_at),
        "unlock_at": iso(checkpoint.unlock_at),
        "lock_at": iso(checkpoint.lock_at),
        "only_visible_to_overrides": checkpoint.only_visible_to_overrides,
        "overrides": [override_json(o, assignment, canvas) for o in checkpoint.overrides],
    }


def group_json(group: AssignmentGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "position": group.position,
        "group_weight": group.group_weight,
        "sis_source_id": None,
        "integration_data": {},
        "rules": {},
    }


def section_json(section: Section, course: Course | None, total_students: int | None) -> dict:
    data: dict[str, Any] = {
        "id": section.id,
        "course_id": section.course_id,
        "name": section.name,
        "start_at": iso(section.start_at),
        "end_at": iso(section.end_at),
        "restrict_enrollments_to_section_dates": False,
        "nonxlist_course_id": None,
        "sis_section_id": section.sis_section_id,
        "sis_course_id": course.sis_course_id if course else None,
        "integration_id": None,
        "sis_import_id": None,
    }
    if total_students is not None:
        data["total_students"] = total_students
    return data


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "sortable_name": user.sortable_name or user.name,
        "short_name": user.name,
        "sis_user_id": user.sis_user_id,
        "integration_id": None,
        "login_id": user.login_id,
    }


def enrollment_json(enrollment: Enrollment, canvas: CanvasWorld, root: str) -> dict[str, Any]:
    user = canvas.users.get(enrollment.user_id)
    section = canvas.sections.get(enrollment.course_section_id)
    course = canvas.courses.get(enrollment.course_id)
    return {
        "id": enrollment.id,
        "course_id": enrollment.course_id,
        "course_section_id": enrollment.course_section_id,
        "user_id": enrollment.user_id,
        "type": enrollment.type,
        "role": enrollment.type,
        "role_id": str(ROLE_IDS[enrollment.type]),
        "enrollment_state": enrollment.enrollment_state,
        "associated_user_id": None,
        "limit_privileges_to_course_section": False,
        "root_account_id": course.root_account_id if course else None,
        "sis_course_id": course.sis_course_id if course else None,
        "sis_section_id": section.sis_section_id if section else None,
        "sis_user_id": user.sis_user_id if user else None,
        "course_integration_id": None,
        "section_integration_id": None,
        "html_url": f"{root}/courses/{enrollment.course_id}/users/{enrollment.user_id}",
        "user": user_json(user) if user else None,
    }


def due_for_student(assignment: Assignment, user_id: str, roster: Roster) -> datetime | None:
    """The due date that applies to one student: their own override, else their sections'
    (the most lenient), else the base date (Canvas's `cached_due_date`)."""
    for override in assignment.overrides:
        if override.student_ids and user_id in override.student_ids:
            dates = override.overridden_dates()
            if "due_at" in dates:
                return dates["due_at"]
    values = []
    for override in assignment.overrides:
        section_id = override.course_section_id
        if section_id is not None and user_id in roster.get(section_id, ()):
            dates = override.overridden_dates()
            if "due_at" in dates:
                values.append(dates["due_at"])
    return _lenient(values, latest=True) if values else assignment.due_at


def submission_json(
    submission: Submission,
    assignment: Assignment,
    canvas: CanvasWorld,
    roster: Roster,
    *,
    include_user: bool,
) -> dict[str, Any]:
    entered_score = submission.score
    if entered_score is not None and submission.points_deducted:
        entered_score += submission.points_deducted
    data: dict[str, Any] = {
        "id": submission.id,
        "assignment_id": submission.assignment_id,
        "user_id": submission.user_id,
        "score": submission.score,
        "grade": submission.grade,
        "entered_score": entered_score,
        "entered_grade": submission.grade,
        "excused": submission.excused,
        "late": submission.late,
        "missing": submission.missing,
        "late_policy_status": submission.late_policy_status,
        "points_deducted": submission.points_deducted,
        "seconds_late": submission.seconds_late,
        "workflow_state": submission.workflow_state,
        "submission_type": submission.submission_type,
        "submitted_at": iso(submission.submitted_at),
        "graded_at": iso(submission.graded_at),
        "posted_at": iso(submission.posted_at),
        "grader_id": submission.grader_id,
        "attempt": submission.attempt,
        "cached_due_date": iso(due_for_student(assignment, submission.user_id, roster)),
        "grade_matches_current_submission": True,
        "custom_grade_status_id": None,
        "extra_attempts": None,
        "redo_request": False,
        "body": None,
        "url": None,
    }
    if include_user:
        user = canvas.users.get(submission.user_id)
        data["user"] = user_json(user) if user else None
    return data


def conversation_json(conversation: Conversation, canvas: CanvasWorld) -> dict[str, Any]:
    participants = [
        {"id": uid, "name": canvas.users[uid].name, "full_name": canvas.users[uid].name}
        for uid in conversation.recipients
        if uid in canvas.users
    ]
    return {
        "id": conversation.id,
        "subject": conversation.subject,
        "workflow_state": "read",
        "last_message": conversation.body,
        "last_message_at": iso(conversation.created_at),
        "last_authored_message": conversation.body,
        "last_authored_message_at": iso(conversation.created_at),
        "message_count": 1,
        "subscribed": True,
        "private": len(conversation.recipients) == 1,
        "starred": False,
        "properties": ["last_author"],
        "audience": list(conversation.recipients),
        "audience_contexts": {"courses": {}, "groups": {}},
        "participants": participants,
        "context_code": conversation.context_code,
    }
