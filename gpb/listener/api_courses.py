"""The course list (docs/api.md, "Courses and assignments")."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.handlers.tokens import Principal
from gpb.listener.auth import authenticate, context
from gpb.listener.context import AppContext


async def courses_json(ctx: AppContext, principal: Principal) -> list[dict[str, Any]]:
    """The courses `principal` may see that gpb knows of, as `GET /api/courses` lists them."""
    only = None if principal.is_admin else principal.course_ids
    return [
        {
            "id": course.id,
            "name": course.name,
            "open_alerts": course.open_alerts,
            # The same count as the course's own pages: its pending delta, every assignment.
            "pending_changes": sum((await ctx.pending.counts(course.id)).values()),
            "last_sync": course.last_sync,
        }
        for course in await ctx.courses.summaries(only)
    ]


async def list_courses(request: Request) -> Response:
    principal = await authenticate(request)
    return JSONResponse({"courses": await courses_json(context(request), principal)})
