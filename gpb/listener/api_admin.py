"""Admin operations over HTTP: the connection checks of `gpb check`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.handlers.ids import local_id_or_none
from gpb.listener.auth import context, require_admin
from gpb.listener.errors import ApiError


async def check_connections(request: Request) -> Response:
    """`GET /api/admin/check[?course_id=&class_id=]`: 200 with the report, passed or not."""
    await require_admin(request)
    course = request.query_params.get("course_id") or None
    course_id = local_id_or_none(course) if course else None
    if course is not None and course_id is None:
        raise ApiError(400, "INVALID_QUERY", "course_id must be a Canvas course id")
    class_id = request.query_params.get("class_id") or None
    return JSONResponse(await context(request).checks.report(course_id, class_id))
