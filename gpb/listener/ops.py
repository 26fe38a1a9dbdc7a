"""Operations endpoints: health for load balancers."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from gpb.listener import schemas
from gpb.listener.answers import json_answer
from gpb.listener.auth import context
from gpb.listener.errors import error_response
from gpb.listener.operations import operation, returns

log = logging.getLogger("gpb.listener")


@operation(
    "Whether the database answers",
    "public",
    {200: returns(schemas.Health), 503: returns(schemas.ErrorBody, "UNHEALTHY")},
)
async def healthz(request: Request) -> Response:
    try:
        healthy = await context(request).database.ping()
    except Exception:
        log.exception("the database did not answer the health check")
        healthy = False
    if not healthy:
        return error_response(503, "UNHEALTHY", "the database does not answer")
    return json_answer(schemas.Health(status="ok"))
