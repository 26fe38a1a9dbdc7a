"""The course list (docs/api.md, "Courses and assignments")."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers.course_list import visible_courses
from gpb.handlers.tokens import Principal
from gpb.listener import schemas
from gpb.listener.answers import json_answer, shown
from gpb.listener.auth import authenticate, context
from gpb.listener.context import AppContext
from gpb.listener.operations import operation, returns


async def course_list(ctx: AppContext, principal: Principal) -> schemas.CourseList:
    """The courses `principal` may see that gpb knows of, as `GET /api/courses` lists them."""
    courses = [
        schemas.CourseSummary(
            id=course.summary.id,
            name=course.summary.name,
            open_alerts=course.summary.open_alerts,
            pending_changes=course.pending_changes,
            last_sync=course.summary.last_sync,
        )
        for course in await visible_courses(ctx.courses, ctx.pending, principal)
    ]
    return schemas.CourseList(courses=courses)


async def courses_json(ctx: AppContext, principal: Principal) -> list[dict[str, Any]]:
    """The courses as the API lists them, for the courses page."""
    return shown(await course_list(ctx, principal))["courses"]


@operation(
    "The courses the token may see that gpb knows of", "token", {200: returns(schemas.CourseList)}
)
async def list_courses(request: Request) -> Response:
    principal = await authenticate(request)
    return json_answer(await course_list(context(request), principal))
