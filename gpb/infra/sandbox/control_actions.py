"""Control-API changes Canvas's REST API has no plain call for, each followed by its Live Event.

    GET  /_sandbox/live_events             where events go, whether the token may masquerade, and
                                           every delivery with gpb's answer
    POST /_sandbox/live_events             {"url": "http://HOST/events/canvas",
                                            "may_masquerade": false}
    POST /_sandbox/canvas/post_grades/{course_id}/{assignment_id}
                                           show the assignment's hidden grades to students
                                           (`submission_updated` for each)
    POST /_sandbox/canvas/enroll/{course_id}/{section_id}
                                           {"user_id": "1213"} or {"name": ..., "sis_user_id": ...}
                                           for a new student (`enrollment_created`)

Posting grades is a GraphQL mutation in Canvas, not REST; the sandbox changes `posted_at` and
sends the `submission_updated` events Canvas's posting job sends.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gpb.infra.sandbox import live_events as le
from gpb.infra.sandbox.canvas_writes import API_USER_ID
from gpb.infra.sandbox.state import SandboxState, User, utc_now


def _error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status)


async def _object(request: Request) -> dict[str, Any] | None:
    raw = await request.body()
    try:
        loaded = json.loads(raw or b"{}")
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


class ControlActions:
    def __init__(self, state: SandboxState, sender: le.LiveEventSender) -> None:
        self.state = state
        self.sender = sender

    def routes(self) -> list[Route]:
        return [
            Route("/live_events", self.live_events, methods=["GET", "POST"]),
            Route(
                "/canvas/post_grades/{course_id}/{assignment_id}",
                self.post_grades,
                methods=["POST"],
            ),
            Route("/canvas/enroll/{course_id}/{section_id}", self.enroll, methods=["POST"]),
        ]

    async def live_events(self, request: Request) -> Response:
        outbox = self.state.live_events
        if request.method == "POST":
            body = await _object(request)
            if body is None:
                return _error(400, "INVALID_BODY", "send a JSON object")
            if "url" in body:
                url = body["url"]
                if url is not None and not (isinstance(url, str) and url.startswith("http")):
                    return _error(400, "INVALID_BODY", "url must be an http(s) URL or null")
                outbox.url = url
            if "may_masquerade" in body:
                outbox.may_masquerade = bool(body["may_masquerade"])
        return JSONResponse(
            {
                "url": outbox.url,
                "may_masquerade": outbox.may_masquerade,
                "deliveries": outbox.deliveries,
            }
        )

    def _request(self, request: Request, course_id: str) -> le.Request:
        return le.Request(course_id, le.Actor(API_USER_ID), request.method, str(request.url))

    async def post_grades(self, request: Request) -> Response:
        canvas = self.state.canvas
        course_id = request.path_params["course_id"]
        assignment = canvas.assignments.get(request.path_params["assignment_id"])
        if assignment is None or assignment.course_id != course_id:
            return _error(404, "NOT_FOUND", "no such assignment in that course")
        now = utc_now()
        posted = []
        for key, submission in list(canvas.submissions.items()):
            if key[0] != assignment.id or submission.posted_at is not None:
                continue
            if submission.workflow_state != "graded" and not submission.excused:
                continue
            shown = submission.model_copy(update={"posted_at": now})
            canvas.submissions[key] = shown
            posted.append(shown)
        req = self._request(request, course_id)
        deliveries = await self.sender.send(
            [le.submission_updated(self.state, req, s) for s in posted]
        )
        return JSONResponse(
            {"posted": len(posted), "deliveries": [d.as_json() for d in deliveries]}
        )

    async def enroll(self, request: Request) -> Response:
        canvas = self.state.canvas
        section = canvas.sections.get(request.path_params["section_id"])
        if section is None or section.course_id != request.path_params["course_id"]:
            return _error(404, "NOT_FOUND", "no such section in that course")
        body = await _object(request)
        if body is None:
            return _error(400, "INVALID_BODY", "send a JSON object")
        user_id = str(body.get("user_id") or "")
        if not user_id:
            try:
                user = User(
                    id=str(max(int(u) for u in canvas.users if u.isdigit()) + 1),
                    name=str(body.get("name") or "New Student"),
                    sis_user_id=body.get("sis_user_id"),
                )
            except ValidationError as error:
                return _error(422, "INVALID_BODY", str(error))
            canvas.users[user.id] = user
            user_id = user.id
        elif user_id not in canvas.users:
            return _error(404, "NOT_FOUND", f"no user {user_id}")
        enrollment = canvas.enroll(user_id, section, "StudentEnrollment")
        req = self._request(request, section.course_id)
        deliveries = await self.sender.send([le.enrollment_created(self.state, req, enrollment)])
        return JSONResponse(
            {
                "user_id": user_id,
                "enrollment_id": enrollment.id,
                "deliveries": [d.as_json() for d in deliveries],
            }
        )
