"""The Live Events the sandbox's Canvas sends after a change, signed, to the gpb it is told about.

Real Canvas emits an event after every committed change (Canvas's live events documentation):
`assignment_updated` with a full snapshot, `assignment_group_updated`, `assignment_override_*`,
`submission_updated` and `grade_change` for a grade, `enrollment_created`. The payloads follow
Canvas's builders: metadata ids and most body ids are *global* (shard 1 here), while
`assignment_group_*` and `assignment_override_*` bodies carry local ids. A masqueraded change names
the teacher as `user_id` and the token's owner as `real_user_id`.

Delivery happens before the REST answer returns, so a command line or a test that changed Canvas
can tell at once whether gpb took the event; real Canvas delivers a moment later, which gpb must
(and does) cope with.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from gpb.infra.sandbox.keys import sign_event
from gpb.infra.sandbox.settings import SandboxSettings
from gpb.infra.sandbox.state import (
    Assignment,
    AssignmentGroup,
    Enrollment,
    Override,
    SandboxState,
    Submission,
)

SHARD = 1
GLOBAL = 10**13
DELIVERY_TIMEOUT_SECONDS = 10.0


def global_id(local: str | None) -> str | None:
    return None if local is None else str(SHARD * GLOBAL + int(local))


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_ms() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Actor:
    """Who made the change: the user acting, and the token's owner when it masqueraded."""

    user_id: str
    real_user_id: str | None = None


@dataclass(frozen=True)
class Request:
    """The request a change came with; every event of one request shares its `request_id`."""

    course_id: str
    actor: Actor
    http_method: str
    url: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class Delivery:
    """One event sent to gpb, and what gpb answered (`status` None: it could not be reached)."""

    event_name: str
    to: str | None
    status: int | None
    answer: str

    def as_json(self) -> dict[str, Any]:
        return {
            "event_name": self.event_name,
            "to": self.to,
            "status": self.status,
            "answer": self.answer,
        }


def _metadata(state: SandboxState, request: Request, event_name: str) -> dict[str, Any]:
    course = state.canvas.courses[request.course_id]
    user = state.canvas.users.get(request.actor.user_id)
    meta: dict[str, Any] = {
        "root_account_id": global_id(course.root_account_id),
        "user_id": global_id(request.actor.user_id),
        "user_login": user.login_id if user else None,
        "user_sis_id": user.sis_user_id if user else None,
        "context_type": "Course",
        "context_id": global_id(course.id),
        "context_sis_source_id": course.sis_course_id,
        "context_account_id": global_id(course.account_id),
        "request_id": request.request_id,
        "hostname": "sandbox.canvas",
        "http_method": request.http_method,
        "url": request.url,
        "producer": "canvas",
        "event_name": event_name,
        "event_time": _now_ms(),
    }
    if request.actor.real_user_id is not None:
        meta["real_user_id"] = global_id(request.actor.real_user_id)
    return meta


def assignment_updated(
    state: SandboxState, request: Request, assignment: Assignment
) -> dict[str, Any]:
    return {
        "metadata": _metadata(state, request, "assignment_updated"),
        "body": {
            "assignment_id": global_id(assignment.id),
            "context_id": global_id(assignment.course_id),
            "context_type": "Course",
            "assignment_group_id": global_id(assignment.assignment_group_id),
            "title": assignment.name,
            "description": assignment.description,
            "workflow_state": assignment.workflow_state,
            "due_at": _iso(assignment.due_at),
            "unlock_at": _iso(assignment.unlock_at),
            "lock_at": _iso(assignment.lock_at),
            "points_possible": assignment.points_possible,
            "submission_types": ",".join(assignment.submission_types),
            "updated_at": _iso(assignment.updated_at),
        },
    }


def assignment_group_updated(
    state: SandboxState, request: Request, group: AssignmentGroup
) -> dict[str, Any]:
    return {
        "metadata": _metadata(state, request, "assignment_group_updated"),
        "body": {
            "assignment_group_id": group.id,  # local, as Canvas sends it
            "context_id": group.course_id,
            "context_type": "Course",
            "name": group.name,
            "position": group.position,
            "group_weight": group.group_weight,
            "sis_source_id": None,
            "integration_data": None,
            "rules": "",
            "workflow_state": group.workflow_state,
        },
    }


def assignment_override_event(
    state: SandboxState, request: Request, override: Override, assignment_id: str, created: bool
) -> dict[str, Any]:
    name = "assignment_override_created" if created else "assignment_override_updated"
    body: dict[str, Any] = {
        "assignment_override_id": override.id,  # local, as Canvas sends it
        "assignment_id": assignment_id,
        "due_at": _iso(override.due_at),
        "all_day": False,
        "all_day_date": None,
        "unlock_at": _iso(override.unlock_at),
        "lock_at": _iso(override.lock_at),
        "type": "CourseSection" if override.course_section_id else "ADHOC",
        "workflow_state": "active",
    }
    if override.course_section_id is not None:
        body["course_section_id"] = override.course_section_id
    return {"metadata": _metadata(state, request, name), "body": body}


def submission_updated(
    state: SandboxState, request: Request, submission: Submission
) -> dict[str, Any]:
    return {
        "metadata": _metadata(state, request, "submission_updated"),
        "body": {
            "submission_id": global_id(submission.id),
            "assignment_id": global_id(submission.assignment_id),
            "user_id": global_id(submission.user_id),
            "score": submission.score,
            "grade": submission.grade,
            "workflow_state": submission.workflow_state,
            "late": submission.late,
            "missing": submission.missing and not submission.excused,
            "posted_at": _iso(submission.posted_at),
            "submitted_at": _iso(submission.submitted_at),
            "graded_at": _iso(submission.graded_at),
            "updated_at": _iso(datetime.now(UTC)),
            "attempt": submission.attempt,
        },
    }


def grade_change(
    state: SandboxState,
    request: Request,
    before: Submission,
    after: Submission,
    assignment: Assignment,
) -> dict[str, Any]:
    student = state.canvas.users.get(after.user_id)
    return {
        "metadata": _metadata(state, request, "grade_change"),
        "body": {
            "submission_id": global_id(after.id),
            "assignment_id": global_id(after.assignment_id),
            "assignment_name": assignment.name,
            "grade": after.grade,
            "old_grade": before.grade,
            "score": after.score,
            "old_score": before.score,
            "points_possible": assignment.points_possible,
            "old_points_possible": assignment.points_possible,
            "grader_id": global_id(request.actor.user_id),
            "student_id": global_id(after.user_id),
            "student_sis_id": student.sis_user_id if student else None,
            "user_id": global_id(after.user_id),
            "grading_complete": after.excused
            or (after.score is not None and after.workflow_state == "graded"),
            "muted": after.posted_at is None,
        },
    }


def enrollment_created(
    state: SandboxState, request: Request, enrollment: Enrollment
) -> dict[str, Any]:
    user = state.canvas.users.get(enrollment.user_id)
    return {
        "metadata": _metadata(state, request, "enrollment_created"),
        "body": {
            "enrollment_id": global_id(enrollment.id),
            "course_id": global_id(enrollment.course_id),
            "user_id": global_id(enrollment.user_id),
            "course_section_id": global_id(enrollment.course_section_id),
            "user_name": user.name if user else None,
            "type": enrollment.type,
            "workflow_state": enrollment.enrollment_state,
            "limit_privileges_to_course_section": False,
            "created_at": _iso(datetime.now(UTC)),
            "updated_at": _iso(datetime.now(UTC)),
        },
    }


class LiveEventSender:
    """Signs events with the sandbox's key and posts them to `state.live_events.url`."""

    def __init__(self, state: SandboxState, settings: SandboxSettings) -> None:
        self.state = state
        self.settings = settings

    async def send(self, events: list[dict[str, Any]]) -> list[Delivery]:
        outbox = self.state.live_events
        deliveries = []
        for event in events:
            delivery = await self._deliver(outbox.url, event)
            outbox.deliveries.append(delivery.as_json())
            deliveries.append(delivery)
        return deliveries

    async def _deliver(self, url: str | None, event: dict[str, Any]) -> Delivery:
        name = str(event["metadata"]["event_name"])
        if url is None:
            return Delivery(name, None, None, "not sent: the sandbox was told no gpb URL")
        token = sign_event(event, self.settings.signing_key)
        try:
            async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_SECONDS) as client:
                response = await client.post(
                    url, content=token, headers={"Content-Type": "application/jwt"}
                )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            return Delivery(name, url, None, f"gpb could not be reached: {type(error).__name__}")
        return Delivery(name, url, response.status_code, response.text[:500])
