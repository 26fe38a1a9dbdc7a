"""The Canvas REST writes the sandbox's Canvas takes, with Canvas's refusals, then its Live Events.

    PUT  /courses/:course_id/assignments/:id               assignment[name|published|due_at|
                                                             assignment_group_id]
    POST /courses/:course_id/assignments/:id/overrides     assignment_override[course_section_id|
                                                             due_at]
    PUT  /courses/:course_id/assignments/:id/overrides/:oid  assignment_override[due_at]
    PUT  /courses/:course_id/assignment_groups/:id         name
    PUT  /courses/:course_id/assignments/:id/submissions/:user_id
                                                           submission[posted_grade|excuse]

Parameters come as a form (`assignment[name]=...`) or as nested JSON, as Canvas takes either.
`as_user_id` masquerades: refused with Canvas's 401 "Invalid as_user_id" unless the token's user
holds "Become other users" (`state.live_events.may_masquerade`) and the user exists; the change is
then made with that user's permissions, so a user who teaches no section of the course is refused.

Refusals are shaped as Canvas's own: validation errors are a 400 with
`{"errors": {"<attribute>": [{"attribute", "type", "message"}]}}`, permission errors a 401 with
`{"status": "unauthorized", "errors": [{"message": "user not authorized to perform that action"}]}`.
An unknown `assignment_group_id` is ignored, as Canvas ignores it.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gpb.infra.sandbox import canvas_json as cj
from gpb.infra.sandbox import live_events as le
from gpb.infra.sandbox.canvas_api import local_id
from gpb.infra.sandbox.grading import apply_grade
from gpb.infra.sandbox.state import Assignment, Course, Override, SandboxState, utc_now

# The token's user (`GET /users/self`), an account admin.
API_USER_ID = "1"
MAX_NAME_LENGTH = 255
Fields = dict[str, str | None]


def _validation(attribute: str, message: str) -> Response:
    error = {"attribute": attribute, "type": message, "message": message}
    return JSONResponse({"errors": {attribute: [error]}}, 400)


def _unauthorized() -> Response:
    return JSONResponse(
        {
            "status": "unauthorized",
            "errors": [{"message": "user not authorized to perform that action"}],
        },
        401,
    )


def _not_found() -> Response:
    return JSONResponse({"errors": [{"message": "The specified resource does not exist."}]}, 404)


def _flatten(value: Any, prefix: str, into: Fields) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}[{key}]" if prefix else str(key), into)
    elif value is None:
        into[prefix] = None
    elif isinstance(value, bool):
        into[prefix] = "true" if value else "false"
    else:
        into[prefix] = str(value)


async def read_fields(request: Request) -> Fields:
    """The request's parameters as Rails names them (`assignment[name]`), query string included."""
    fields: Fields = {key: value for key, value in request.query_params.items()}
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        with contextlib.suppress(ValueError):
            _flatten(json.loads(raw or b"{}"), "", fields)
    else:
        for key, values in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items():
            fields[key] = values[-1]
    return fields


def _time(value: str | None) -> datetime | None:
    """A Canvas date parameter: ISO-8601; an empty value clears the date. Raises ValueError."""
    if value is None or value == "":
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no zone")
    return parsed.astimezone(UTC)  # Canvas keeps times in UTC


def _flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def _between(due: datetime | None, unlock: datetime | None, lock: datetime | None) -> bool:
    if due is None:
        return True
    return (unlock is None or due >= unlock) and (lock is None or due <= lock)


class CanvasWrites:
    """The write endpoints, changing `state.canvas` and sending the events Canvas would."""

    def __init__(self, state: SandboxState, sender: le.LiveEventSender | None) -> None:
        self.state = state
        self.sender = sender

    def routes(self) -> list[Route]:
        base = "/courses/{course_id}/assignments/{assignment_id}"
        return [
            Route(base, self.update_assignment, methods=["PUT"]),
            Route(base + "/overrides", self.create_override, methods=["POST"]),
            Route(base + "/overrides/{override_id}", self.update_override, methods=["PUT"]),
            Route(base + "/submissions/{user_id}", self.grade, methods=["PUT"]),
            Route(
                "/courses/{course_id}/assignment_groups/{group_id}",
                self.update_group,
                methods=["PUT"],
            ),
        ]

    # ------------------------------------------------------------ who acts

    def _actor(self, fields: Fields, course: Course) -> le.Actor | Response:
        """The acting user: the token's own, or the masqueraded one when allowed."""
        as_user = fields.get("as_user_id")
        if not as_user:
            return le.Actor(API_USER_ID)
        user_id = local_id(as_user)
        if user_id.startswith("sis_user_id:"):
            sis_id = user_id.split(":", 1)[1]
            user_id = next(
                (u.id for u in self.state.canvas.users.values() if u.sis_user_id == sis_id), ""
            )
        if not self.state.live_events.may_masquerade or user_id not in self.state.canvas.users:
            return JSONResponse({"errors": "Invalid as_user_id"}, 401)
        teaches = any(
            e.user_id == user_id
            and e.type in ("TeacherEnrollment", "TaEnrollment")
            and e.enrollment_state == "active"
            for e in self.state.canvas.enrollments_of(course.id)
        )
        if not teaches:
            return _unauthorized()
        return le.Actor(user_id, real_user_id=API_USER_ID)

    def _target(
        self, request: Request, fields: Fields
    ) -> tuple[Course, Assignment, le.Request] | Response:
        canvas = self.state.canvas
        course = canvas.courses.get(local_id(request.path_params["course_id"]))
        if course is None or course.workflow_state == "deleted":
            return _not_found()
        assignment = canvas.assignments.get(local_id(request.path_params["assignment_id"]))
        if assignment is None or assignment.course_id != course.id or assignment.deleted:
            return _not_found()
        actor = self._actor(fields, course)
        if isinstance(actor, Response):
            return actor
        return course, assignment, le.Request(course.id, actor, request.method, str(request.url))

    async def _send(self, events: list[dict[str, Any]]) -> None:
        if self.sender is not None:
            await self.sender.send(events)

    def _answer(self, request: Request, assignment: Assignment) -> Response:
        root = f"{request.url.scheme}://{request.url.netloc}"
        data = cj.assignment_json(
            assignment, self.state.canvas, root, include={"overrides"}, override_dates=False
        )
        return JSONResponse(cj.integer_ids(data))

    # ------------------------------------------------------------ assignments

    async def update_assignment(self, request: Request) -> Response:
        fields = await read_fields(request)
        found = self._target(request, fields)
        if isinstance(found, Response):
            return found
        course, assignment, req = found
        change: dict[str, Any] = {}
        if "assignment[name]" in fields:
            name = (fields["assignment[name]"] or "").strip()
            if not name:
                return _validation("title", "can't be blank")
            if len(name) > MAX_NAME_LENGTH:
                return _validation(
                    "title", f"is too long (maximum is {MAX_NAME_LENGTH} characters)"
                )
            change["name"] = name
        if "assignment[published]" in fields:
            published = _flag(fields["assignment[published]"] or "")
            change["workflow_state"] = "published" if published else "unpublished"
        if "assignment[due_at]" in fields:
            try:
                change["due_at"] = _time(fields["assignment[due_at]"])
            except ValueError:
                return _validation("due_at", "Invalid datetime for due_at")
            if not _between(change["due_at"], assignment.unlock_at, assignment.lock_at):
                return _validation("due_at", "must be between availability dates")
        group_ref = fields.get("assignment[assignment_group_id]")
        if group_ref:
            group = self.state.canvas.assignment_groups.get(local_id(group_ref))
            if (
                group is not None
                and group.course_id == course.id
                and group.workflow_state == "available"
            ):
                change["assignment_group_id"] = group.id
        if not change:
            return self._answer(request, assignment)
        updated = Assignment.model_validate(
            assignment.model_dump(exclude_unset=True) | change | {"updated_at": utc_now()}
        )
        self.state.canvas.assignments[updated.id] = updated
        await self._send([le.assignment_updated(self.state, req, updated)])
        return self._answer(request, updated)

    async def create_override(self, request: Request) -> Response:
        fields = await read_fields(request)
        found = self._target(request, fields)
        if isinstance(found, Response):
            return found
        course, assignment, req = found
        section_id = local_id(fields.get("assignment_override[course_section_id]") or "")
        section = self.state.canvas.sections.get(section_id)
        if section is None or section.course_id != course.id:
            return _validation("course_section_id", "unknown section")
        if any(o.course_section_id == section_id for o in assignment.overrides):
            return _validation("set", "taken")
        try:
            due_at = _time(fields.get("assignment_override[due_at]"))
        except ValueError:
            return _validation("due_at", "Invalid datetime for due_at")
        if not _between(due_at, assignment.unlock_at, assignment.lock_at):
            return _validation("due_at", "must be between availability dates")
        ids = [int(o.id) for a in self.state.canvas.assignments.values() for o in a.overrides]
        override = Override(
            id=str(max(ids, default=0) + 1), course_section_id=section_id, due_at=due_at
        )
        self._store_override(assignment, override)
        await self._send(
            [le.assignment_override_event(self.state, req, override, assignment.id, True)]
        )
        return JSONResponse(
            cj.integer_ids(cj.override_json(override, assignment, self.state.canvas)), 201
        )

    async def update_override(self, request: Request) -> Response:
        fields = await read_fields(request)
        found = self._target(request, fields)
        if isinstance(found, Response):
            return found
        _, assignment, req = found
        override_id = local_id(request.path_params["override_id"])
        current = next((o for o in assignment.overrides if o.id == override_id), None)
        if current is None:
            return _not_found()
        if "assignment_override[due_at]" not in fields:
            return JSONResponse(
                cj.integer_ids(cj.override_json(current, assignment, self.state.canvas))
            )
        try:
            due_at = _time(fields["assignment_override[due_at]"])
        except ValueError:
            return _validation("due_at", "Invalid datetime for due_at")
        unlock = current.unlock_at or assignment.unlock_at
        lock = current.lock_at or assignment.lock_at
        if not _between(due_at, unlock, lock):
            return _validation("due_at", "must be between availability dates")
        override = Override.model_validate(
            current.model_dump(exclude_unset=True) | {"due_at": due_at}
        )
        self._store_override(assignment, override)
        await self._send(
            [le.assignment_override_event(self.state, req, override, assignment.id, False)]
        )
        return JSONResponse(
            cj.integer_ids(cj.override_json(override, assignment, self.state.canvas))
        )

    def _store_override(self, assignment: Assignment, override: Override) -> None:
        others = [o for o in assignment.overrides if o.id != override.id]
        updated = assignment.model_copy(
            update={"overrides": [*others, override], "updated_at": utc_now()}
        )
        self.state.canvas.assignments[assignment.id] = updated

    # ------------------------------------------------------------ groups

    async def update_group(self, request: Request) -> Response:
        fields = await read_fields(request)
        canvas = self.state.canvas
        course = canvas.courses.get(local_id(request.path_params["course_id"]))
        group = canvas.assignment_groups.get(local_id(request.path_params["group_id"]))
        if course is None or group is None or group.course_id != course.id:
            return _not_found()
        if group.workflow_state == "deleted":
            return _not_found()
        actor = self._actor(fields, course)
        if isinstance(actor, Response):
            return actor
        name = fields.get("name", fields.get("assignment_group[name]"))
        if name is not None:
            name = name.strip()
            if not name:
                return _validation("name", "can't be blank")
            if len(name) > MAX_NAME_LENGTH:
                return _validation("name", f"is too long (maximum is {MAX_NAME_LENGTH} characters)")
            if name != group.name:
                group = group.model_copy(update={"name": name})
                canvas.assignment_groups[group.id] = group
                req = le.Request(course.id, actor, request.method, str(request.url))
                await self._send([le.assignment_group_updated(self.state, req, group)])
        return JSONResponse(cj.integer_ids(cj.group_json(group)))

    # ------------------------------------------------------------ grades

    async def grade(self, request: Request) -> Response:
        fields = await read_fields(request)
        found = self._target(request, fields)
        if isinstance(found, Response):
            return found
        course, assignment, req = found
        canvas = self.state.canvas
        user_id = local_id(request.path_params["user_id"])
        students = {
            e.user_id for e in canvas.enrollments_of(course.id) if e.type == "StudentEnrollment"
        }
        if user_id not in students:
            return _not_found()
        before = canvas.submission(assignment.id, user_id)
        change: dict[str, Any] = {}
        if "submission[excuse]" in fields:
            excuse = _flag(fields["submission[excuse]"] or "")
            change = {"excused": True} if excuse else {"excused": False, "score": None}
        if "submission[posted_grade]" in fields:
            posted = (fields["submission[posted_grade]"] or "").strip()
            if posted == "":
                change["score"] = None
            else:
                try:
                    change["score"] = _points(posted, assignment)
                except ValueError:
                    return _validation("grade", "is not a valid grade")
        if not change:
            return _validation("submission", "nothing to change")
        after = apply_grade(before, assignment, change)
        canvas.submissions[(assignment.id, user_id)] = after
        await self._send(
            [
                le.submission_updated(self.state, req, after),
                le.grade_change(self.state, req, before, after, assignment),
            ]
        )
        (data,) = [
            cj.submission_json(
                after, assignment, canvas, canvas.roster(course.id), include_user=False
            )
        ]
        return JSONResponse(cj.integer_ids(data))


def _points(posted: str, assignment: Assignment) -> float:
    """A posted grade as points: "8.5" are points, "85%" a share of points possible."""
    if posted.endswith("%"):
        return float(posted[:-1]) / 100 * (assignment.points_possible or 0.0)
    return float(posted)
