"""The Canvas REST stand-in under `/api/v1`: the calls gpb makes (canvas-rest.md section 2).

It behaves as Canvas does where a client can go wrong: a Bearer token is required (401 with
`WWW-Authenticate` when it is wrong), lists are paginated with absolute `Link` URLs (10 per page by
default, at most 100), ids are JSON integers unless asked for as strings, a deleted assignment is a
404, dates are collapsed for the caller unless `override_assignment_dates=false`, and the bulk
submissions call only knows published assignments.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpb.infra.sandbox import canvas_json as cj
from gpb.infra.sandbox.faults import FaultInjector
from gpb.infra.sandbox.state import (
    NOT_DELETED_STATES,
    Assignment,
    CanvasWorld,
    Course,
    Roster,
    SandboxState,
    Submission,
    User,
)

SHARD_SIZE = 10**13
STRING_IDS = "application/json+canvas-string-ids"
DEFAULT_PER_PAGE = 10
MAX_PER_PAGE = 100
MAX_IDS = 100
# The account admin the sandbox's API token belongs to (`GET /users/self`).
API_USER = User(id="1", name="Sandbox API User", login_id="gpb-api")

T = TypeVar("T")


def local_id(raw: str) -> str:
    """A local id from what Canvas accepts in paths: global ids (shard x 10^13 + id), `shard~id`."""
    if "~" in raw:
        return raw.split("~", 1)[1]
    if raw.isdigit() and int(raw) >= SHARD_SIZE:
        return str(int(raw) % SHARD_SIZE)
    return raw


def canvas_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"message": message}]}, status, headers=headers)


def _not_found() -> Response:
    return canvas_error(404, "The specified resource does not exist.")


def rate_limited(_retry_after: int | None, status: int | None) -> Response:
    """Canvas's throttling answer: 403 with this text (newer docs say 429), no Retry-After."""
    headers = {"X-Rate-Limit-Remaining": "0.0", "X-Request-Cost": "0"}
    text = "403 Forbidden (Rate Limit Exceeded)\n"
    return PlainTextResponse(text, status or 403, headers=headers)


def server_error() -> Response:
    return JSONResponse(
        {"errors": [{"message": "An error occurred.", "error_code": "internal_server_error"}]},
        500,
    )


class CanvasEdge:
    """Checks the Bearer token (or `access_token`) and adds Canvas's throttling headers."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    def _authorised(self, scope: Scope) -> bool:
        authorization = Headers(scope=scope).get("authorization", "")
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and credential.strip() == self.token:
            return True
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return query.get("access_token") == [self.token]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            answer = canvas_error(
                401,
                "Invalid access token.",
                headers={"WWW-Authenticate": 'Bearer realm="canvas-lms"'},
            )
            await answer(scope, receive, send)
            return

        async def send_with_costs(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Request-Cost", "0.01")
                headers.setdefault("X-Rate-Limit-Remaining", "700.0")
            await send(message)

        await self.app(scope, receive, send_with_costs)


def _values(request: Request, name: str) -> list[str]:
    """A Rails-style list parameter: `name[]=a&name[]=b` (a bare `name=` is accepted too)."""
    return request.query_params.getlist(name + "[]") + request.query_params.getlist(name)


def _flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes", "on")


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def paginate(request: Request, items: Sequence[T]) -> tuple[list[T], str]:
    """One page of `items` and its `Link` header (absolute URLs, `access_token` left out)."""
    return paginate_lazily(request, len(items), lambda start, stop: list(items[start:stop]))


def paginate_lazily(
    request: Request, total: int, take: Callable[[int, int], list[T]]
) -> tuple[list[T], str]:
    """`paginate` over a list of `total` items of which only the page is built, by
    `take(start, stop)`."""
    per_page = _int(request.query_params.get("per_page"), DEFAULT_PER_PAGE)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    last = max(1, math.ceil(total / per_page))
    page = max(1, _int(request.query_params.get("page"), 1))
    base = request.url.remove_query_params("access_token")

    def link(number: int, rel: str) -> str:
        return f'<{base.include_query_params(page=number, per_page=per_page)}>; rel="{rel}"'

    links = [link(page, "current")]
    if page < last:
        links.append(link(page + 1, "next"))
    if 1 < page <= last + 1:
        links.append(link(page - 1, "prev"))
    links += [link(1, "first"), link(last, "last")]
    return take((page - 1) * per_page, page * per_page), ",".join(links)


# Parameters of the bulk submissions call that need every submission before a page is cut.
_WHOLE_LIST_PARAMETERS = ("workflow_state", "graded_since", "order", "order_direction")


def _submissions_between(
    canvas: CanvasWorld, listed: Sequence[tuple[Assignment, Sequence[str]]]
) -> Callable[[int, int], list[tuple[Submission, Assignment]]]:
    """Positions `start` to `stop` of the submissions of `listed` (each assignment with the
    students it is listed for), in Canvas's order: assignment by assignment, student by student."""

    def take(start: int, stop: int) -> list[tuple[Submission, Assignment]]:
        found: list[tuple[Submission, Assignment]] = []
        offset = 0
        for assignment, user_ids in listed:
            if offset >= stop:
                break
            if offset + len(user_ids) > start:
                window = user_ids[max(start - offset, 0) : stop - offset]
                found += [(canvas.submission(assignment.id, u), assignment) for u in window]
            offset += len(user_ids)
        return found

    return take


class CanvasApi:
    """The endpoints, reading and writing `state.canvas`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def router(self, writes: Sequence[Route] = ()) -> Router:
        routes = [
            *writes,
            Route("/courses/{course_id}", self.get_course),
            Route("/courses/{course_id}/assignments", self.list_assignments),
            Route("/courses/{course_id}/assignments/{assignment_id}", self.get_assignment),
            Route(
                "/courses/{course_id}/assignments/{assignment_id}/overrides", self.list_overrides
            ),
            Route(
                "/courses/{course_id}/assignments/{assignment_id}/submissions",
                self.assignment_submissions,
            ),
            Route(
                "/courses/{course_id}/assignments/{assignment_id}/submissions/{user_id}",
                self.get_submission,
            ),
            Route("/courses/{course_id}/assignment_groups", self.list_groups),
            Route("/courses/{course_id}/assignment_groups/{group_id}", self.get_group),
            Route("/courses/{course_id}/sections", self.list_sections),
            Route("/courses/{course_id}/sections/{section_id}", self.get_section),
            Route("/sections/{section_id}", self.get_section),
            Route("/courses/{course_id}/enrollments", self.list_enrollments),
            Route("/sections/{section_id}/enrollments", self.list_enrollments),
            Route("/courses/{course_id}/students/submissions", self.student_submissions),
            Route("/conversations", self.create_conversation, methods=["POST"]),
            Route("/users/self", self.whoami),
            Route("/users/{user_id}", self.get_user),
        ]
        return Router(routes, default=_not_found_app)

    # ------------------------------------------------------------ helpers

    def _answer(
        self, request: Request, data: Any, status: int = 200, link: str | None = None
    ) -> Response:
        if STRING_IDS not in request.headers.get("accept", ""):
            data = cj.integer_ids(data)
        headers = {"Link": link} if link else None
        return JSONResponse(data, status, headers=headers)

    def _root(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    def _course(self, request: Request) -> Course | None:
        ref = request.path_params["course_id"]
        courses = self.state.canvas.courses.values()
        if ref.startswith("sis_course_id:"):
            sis_id = ref.split(":", 1)[1]
            course = next((c for c in courses if c.sis_course_id == sis_id), None)
        else:
            course = self.state.canvas.courses.get(local_id(ref))
        return None if course is None or course.workflow_state == "deleted" else course

    def _assignment(self, request: Request, course: Course) -> Assignment | None:
        found = self.state.canvas.assignments.get(local_id(request.path_params["assignment_id"]))
        if found is None or found.course_id != course.id or found.deleted:
            return None
        return found

    def _assignment_json(self, request: Request, assignment: Assignment) -> dict[str, Any]:
        return cj.assignment_json(
            assignment,
            self.state.canvas,
            self._root(request),
            include=set(_values(request, "include")),
            override_dates=_flag(request, "override_assignment_dates", True),
        )

    def _submissions_json(
        self, request: Request, found: Sequence[tuple[Submission, Assignment]], roster: Roster
    ) -> list[dict[str, Any]]:
        include_user = "user" in _values(request, "include")
        canvas = self.state.canvas
        return [
            cj.submission_json(s, a, canvas, roster, include_user=include_user) for s, a in found
        ]

    # ------------------------------------------------------------ courses and assignments

    async def get_course(self, request: Request) -> Response:
        course = self._course(request)
        if course is None:
            return _not_found()
        return self._answer(request, cj.course_json(course))

    async def list_assignments(self, request: Request) -> Response:
        course = self._course(request)
        if course is None:
            return _not_found()
        wanted = [local_id(raw) for raw in _values(request, "assignment_ids")]
        if len(wanted) > MAX_IDS:
            return canvas_error(400, f"Request contains too many assignment_ids (max {MAX_IDS})")
        assignments = self.state.canvas.assignments_of(course.id)
        if wanted:
            assignments = [a for a in assignments if a.id in wanted]
        post_to_sis = request.query_params.get("post_to_sis")
        if post_to_sis is not None:
            assignments = [a for a in assignments if a.post_to_sis == (post_to_sis == "true")]
        page, link = paginate(request, assignments)
        return self._answer(request, [self._assignment_json(request, a) for a in page], link=link)

    async def get_assignment(self, request: Request) -> Response:
        course = self._course(request)
        assignment = self._assignment(request, course) if course else None
        if assignment is None:
            return _not_found()
        return self._answer(request, self._assignment_json(request, assignment))

    async def list_overrides(self, request: Request) -> Response:
        course = self._course(request)
        assignment = self._assignment(request, course) if course else None
        if assignment is None:
            return _not_found()
        page, link = paginate(request, assignment.overrides)
        data = [cj.override_json(o, assignment, self.state.canvas) for o in page]
        return self._answer(request, data, link=link)

    async def list_groups(self, request: Request) -> Response:
        course = self._course(request)
        if course is None:
            return _not_found()
        groups = sorted(
            (
                g
                for g in self.state.canvas.assignment_groups.values()
                if g.course_id == course.id and g.workflow_state == "available"
            ),
            key=lambda g: g.position,
        )
        page, link = paginate(request, groups)
        data = [self._group_json(request, course, g.id) for g in page]
        return self._answer(request, data, link=link)

    async def get_group(self, request: Request) -> Response:
        course = self._course(request)
        group = self.state.canvas.assignment_groups.get(local_id(request.path_params["group_id"]))
        if course is None or group is None or group.course_id != course.id:
            return _not_found()
        if group.workflow_state == "deleted":
            return _not_found()
        return self._answer(request, self._group_json(request, course, group.id))

    def _group_json(self, request: Request, course: Course, group_id: str) -> dict[str, Any]:
        data = cj.group_json(self.state.canvas.assignment_groups[group_id])
        if "assignments" in _values(request, "include"):
            data["assignments"] = [
                self._assignment_json(request, a)
                for a in self.state.canvas.assignments_of(course.id)
                if a.assignment_group_id == group_id
            ]
        return data

    # ------------------------------------------------------------ sections and enrollments

    async def list_sections(self, request: Request) -> Response:
        course = self._course(request)
        if course is None:
            return _not_found()
        page, link = paginate(request, self.state.canvas.sections_of(course.id))
        data = [self._section_json(request, s.id) for s in page]
        return self._answer(request, data, link=link)

    async def get_section(self, request: Request) -> Response:
        ref = request.path_params["section_id"]
        sections = self.state.canvas.sections
        if ref.startswith("sis_section_id:"):
            sis_id = ref.split(":", 1)[1]
            section = next((s for s in sections.values() if s.sis_section_id == sis_id), None)
        else:
            section = sections.get(local_id(ref))
        if section is None:
            return _not_found()
        if "course_id" in request.path_params:
            course = self._course(request)
            if course is None or section.course_id != course.id:
                return _not_found()
        return self._answer(request, self._section_json(request, section.id))

    def _section_json(self, request: Request, section_id: str) -> dict[str, Any]:
        canvas = self.state.canvas
        section = canvas.sections[section_id]
        total = None
        if "total_students" in _values(request, "include"):
            total = len(canvas.students_of_section(section.id))
        return cj.section_json(section, canvas.courses.get(section.course_id), total)

    async def list_enrollments(self, request: Request) -> Response:
        canvas = self.state.canvas
        if "course_id" in request.path_params:
            course = self._course(request)
            if course is None:
                return _not_found()
            enrollments = canvas.enrollments_of(course.id)
        else:
            section = canvas.sections.get(local_id(request.path_params["section_id"]))
            if section is None:
                return _not_found()
            enrollments = [
                e
                for e in canvas.enrollments_of(section.course_id)
                if e.course_section_id == section.id
            ]
        types = _values(request, "type")
        states = _values(request, "state") or ["active", "invited"]
        user_id = request.query_params.get("user_id")
        enrollments = [
            e
            for e in enrollments
            if (not types or e.type in types)
            and e.enrollment_state in states
            and (user_id is None or e.user_id == local_id(user_id))
        ]
        page, link = paginate(request, enrollments)
        root = self._root(request)
        return self._answer(request, [cj.enrollment_json(e, canvas, root) for e in page], link=link)

    # ------------------------------------------------------------ submissions

    async def student_submissions(self, request: Request) -> Response:
        """`GET /courses/:id/students/submissions`: published assignments only, as in Canvas."""
        canvas = self.state.canvas
        course = self._course(request)
        if course is None:
            return _not_found()
        if _flag(request, "grouped", False):
            return canvas_error(400, "grouped=1 is not supported by this Canvas stand-in")
        # Without `enrollment_state`, concluded and deactivated students' grades are listed too.
        roster = canvas.roster(course.id, NOT_DELETED_STATES)
        requested = _values(request, "student_ids")
        if len(requested) > MAX_IDS:
            return canvas_error(400, "too many students")
        # No student_ids means the caller's own submissions: an admin token has none.
        chosen = {local_id(uid) for uid in requested}
        if requested == ["all"]:
            chosen = set(canvas.students_of_course(course.id, roster))
        published = [a for a in canvas.assignments_of(course.id) if a.published]
        wanted = [local_id(raw) for raw in _values(request, "assignment_ids")]
        if wanted:
            known = {a.id for a in published}
            if not set(wanted) <= known:
                return JSONResponse({"error": "invalid assignment ids requested"}, 403)
            published = [a for a in published if a.id in wanted]
        listed = [
            (assignment, [u for u in canvas.assigned_students(assignment, roster) if u in chosen])
            for assignment in published
        ]
        if any(request.query_params.get(name) for name in _WHOLE_LIST_PARAMETERS):
            found = [(canvas.submission(a.id, u), a) for a, user_ids in listed for u in user_ids]
            page, link = paginate(request, self._filter_submissions(request, found))
        else:
            # Only the page asked is built: a remaster reads a course of 30,000 grades in 300
            # pages, and building every submission for each page made the stand-in quadratic.
            total = sum(len(user_ids) for _, user_ids in listed)
            page, link = paginate_lazily(request, total, _submissions_between(canvas, listed))
        return self._answer(request, self._submissions_json(request, page, roster), link=link)

    def _filter_submissions(
        self, request: Request, found: list[tuple[Submission, Assignment]]
    ) -> list[tuple[Submission, Assignment]]:
        """`workflow_state`, `graded_since` and `order` of the bulk submissions call.

        Without `order=graded_at` the order is assignment by assignment, student by student: stable
        across pages, and cheap for a course of thousands of submissions.
        """
        state = request.query_params.get("workflow_state")
        if state:
            found = [pair for pair in found if pair[0].workflow_state == state]
        since = request.query_params.get("graded_since")
        if since:
            found = [
                pair
                for pair in found
                if pair[0].graded_at is not None and (cj.iso(pair[0].graded_at) or "") >= since
            ]
        if request.query_params.get("order") == "graded_at":
            found.sort(key=lambda pair: cj.iso(pair[0].graded_at) or "9999")
        if request.query_params.get("order_direction") == "descending":
            found.reverse()
        return found

    async def assignment_submissions(self, request: Request) -> Response:
        canvas = self.state.canvas
        course = self._course(request)
        assignment = self._assignment(request, course) if course else None
        if assignment is None:
            return _not_found()
        roster = canvas.roster(assignment.course_id)
        found = [
            (canvas.submission(assignment.id, uid), assignment)
            for uid in canvas.assigned_students(assignment, roster)
        ]
        page, link = paginate(request, found)
        return self._answer(request, self._submissions_json(request, page, roster), link=link)

    async def get_submission(self, request: Request) -> Response:
        canvas = self.state.canvas
        course = self._course(request)
        assignment = self._assignment(request, course) if course else None
        if course is None or assignment is None:
            return _not_found()
        ref = request.path_params["user_id"]
        if ref.startswith("sis_user_id:"):
            sis_id = ref.split(":", 1)[1]
            user_id = next((u.id for u in canvas.users.values() if u.sis_user_id == sis_id), "")
        else:
            user_id = local_id(ref)
        students = {
            e.user_id for e in canvas.enrollments_of(course.id) if e.type == "StudentEnrollment"
        }
        if user_id not in students:
            return _not_found()
        found = [(canvas.submission(assignment.id, user_id), assignment)]
        (data,) = self._submissions_json(request, found, canvas.roster(course.id))
        return self._answer(request, data)

    # ------------------------------------------------------------ the token's user

    async def whoami(self, request: Request) -> Response:
        return self._answer(request, cj.user_json(API_USER))

    async def get_user(self, request: Request) -> Response:
        user = self.state.canvas.users.get(local_id(request.path_params["user_id"]))
        return _not_found() if user is None else self._answer(request, cj.user_json(user))

    # ------------------------------------------------------------ conversations

    async def create_conversation(self, request: Request) -> Response:
        """`POST /conversations`, JSON or form; recorded in the state for tests to read."""
        fields = await _form_or_json(request)
        recipients = fields.get("recipients[]", []) + fields.get("recipients", [])
        body = "".join(fields.get("body", []))
        if not body:
            return JSONResponse([{"attribute": "body", "message": "blank"}], 400)
        users = self._recipients(recipients)
        if not users:
            return JSONResponse([{"attribute": "recipients", "message": "invalid"}], 400)
        subject = "".join(fields.get("subject", []))[:255]
        context = "".join(fields.get("context_code", [])) or None
        canvas = self.state.canvas
        if "".join(fields.get("group_conversation", [])).lower() in ("1", "true"):
            sent = [canvas.add_conversation(users, subject, body, context)]
        else:
            sent = [canvas.add_conversation([uid], subject, body, context) for uid in users]
        if "".join(fields.get("mode", [])) == "async":
            return JSONResponse([], 202, headers={"X-Conversation-Batch-Id": sent[-1].id})
        return self._answer(request, [cj.conversation_json(c, canvas) for c in sent], 201)

    def _recipients(self, refs: list[str]) -> list[str]:
        """User ids from `recipients[]`: ids, `course_<id>`, `course_<id>_teachers|students`."""
        canvas = self.state.canvas
        found: dict[str, None] = {}
        for ref in refs:
            if ref.startswith("course_"):
                course_id, _, role = ref.removeprefix("course_").partition("_")
                types = {
                    "": ("StudentEnrollment", "TeacherEnrollment", "TaEnrollment"),
                    "teachers": ("TeacherEnrollment",),
                    "students": ("StudentEnrollment",),
                }.get(role, ())
                for enrollment in canvas.enrollments_of(local_id(course_id)):
                    if enrollment.type in types and enrollment.enrollment_state == "active":
                        found[enrollment.user_id] = None
            elif local_id(ref) in canvas.users:
                found[local_id(ref)] = None
            else:
                return []
        return list(found)


async def _form_or_json(request: Request) -> dict[str, list[str]]:
    """The fields of a form or JSON body, each as a list (Canvas takes either)."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            loaded = json.loads(raw or b"{}")
        except ValueError:
            return {}
        if not isinstance(loaded, dict):
            return {}
        return {
            key: [str(v) for v in value] if isinstance(value, list) else [str(value)]
            for key, value in loaded.items()
        }
    return parse_qs(raw.decode("utf-8"), keep_blank_values=True)


async def _not_found_app(scope: Scope, receive: Receive, send: Send) -> None:
    await _not_found()(scope, receive, send)


def canvas_app(state: SandboxState, token: str, writes: Sequence[Route] = ()) -> ASGIApp:
    """The Canvas stand-in, mounted at `/api/v1`: faults first, then the token check."""
    edge = CanvasEdge(CanvasApi(state).router(writes), token)
    return FaultInjector(edge, state.canvas_faults, rate_limited, server_error)
