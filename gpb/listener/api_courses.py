"""The course list (API.md, "People and access")."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.listener.auth import authenticate, context


async def list_courses(request: Request) -> Response:
    principal = await authenticate(request)
    only = None if principal.is_admin else principal.course_ids
    summaries = await context(request).courses.summaries(only)
    return JSONResponse(
        {
            "courses": [
                {
                    "id": course.id,
                    "name": course.name,
                    "open_alerts": course.open_alerts,
                    "pending_changes": course.pending_changes,
                    "last_sync": course.last_sync,
                }
                for course in summaries
            ]
        }
    )
