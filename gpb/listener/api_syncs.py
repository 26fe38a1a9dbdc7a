"""The pending delta, sync and remaster runs, their history, and the error dictionary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.handlers.dictionary import ENTRIES
from gpb.handlers.ids import local_id_or_none, record_id
from gpb.handlers.sync_service import InvalidRequest
from gpb.handlers.syncs import RunInProgress, RunKind, SyncRequest, SyncRun
from gpb.listener.auth import authenticate, context, course_access
from gpb.listener.errors import ApiError, not_found

HISTORY_PAGE = 25


def _assignment_id(value: object) -> str:
    local = local_id_or_none(value)
    if local is None:
        raise ValueError("an assignment id is a Canvas id")
    return local


AssignmentId = Annotated[str, BeforeValidator(_assignment_id)]


class SyncBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["sync", "remaster"]
    assignment_ids: list[AssignmentId] | None = None
    dry_run: bool = False


async def _body(request: Request) -> SyncBody:
    raw = await request.body()
    try:
        return SyncBody.model_validate(json.loads(raw or b"null"))
    except (ValueError, RecursionError, ValidationError) as exc:
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "not JSON"
        raise ApiError(400, "INVALID_BODY", f"the body is not a sync request: {detail}") from None


async def pending(request: Request) -> Response:
    _, course_id = await course_access(request)
    entries = await context(request).pending.entries(course_id)
    return JSONResponse({"changes": [entry.as_json() for entry in entries]})


async def start_run(request: Request) -> Response:
    principal, course_id = await course_access(request)
    body = await _body(request)
    sync_request = SyncRequest(
        course_id=course_id,
        kind=RunKind(body.kind),
        dry_run=body.dry_run,
        assignment_ids=tuple(dict.fromkeys(body.assignment_ids))
        if body.assignment_ids is not None
        else None,
        requested_by=principal.name or principal.role.value,
    )
    with _refusals(invalid_status=400):
        run = await context(request).syncs.request(sync_request)
    return JSONResponse({"id": run.id, "status": run.status.value}, status_code=202)


@contextmanager
def _refusals(*, invalid_status: int) -> Iterator[None]:
    """The service's refusals as API errors: a bad request, or a run already under way."""
    try:
        yield
    except InvalidRequest as invalid:
        raise ApiError(invalid_status, invalid.code, invalid.message) from None
    except RunInProgress as busy:
        raise ApiError(409, "SYNC_IN_PROGRESS", str(busy), sync_id=busy.sync_id) from None


async def _visible_run(request: Request) -> SyncRun:
    principal = await authenticate(request)
    run = await context(request).sync_runs.run(request.path_params["sync_id"])
    if run is None or not principal.may_see(run.course_id):
        raise not_found("no such run")
    return run


async def get_run(request: Request) -> Response:
    return JSONResponse((await _visible_run(request)).as_json())


async def resume_run(request: Request) -> Response:
    run = await _visible_run(request)
    with _refusals(invalid_status=409):
        resumed = await context(request).syncs.resume(run)
    return JSONResponse({"id": resumed.id, "status": resumed.status.value}, status_code=202)


async def list_runs(request: Request) -> Response:
    _, course_id = await course_access(request)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and record_id(cursor) is None:
        raise ApiError(400, "INVALID_QUERY", "cursor is not one this API gave")
    runs = await context(request).sync_runs.runs(course_id, cursor, HISTORY_PAGE + 1)
    page = runs[:HISTORY_PAGE]
    next_cursor = page[-1].id if len(runs) > HISTORY_PAGE else None
    return JSONResponse(
        {"syncs": [run.as_json(full=False) for run in page], "next_cursor": next_cursor}
    )


def dictionary_json() -> list[dict[str, Any]]:
    return [
        {
            "code": e.code,
            "kind": e.kind,
            "severity": e.severity,
            "title": e.title,
            "meaning": e.meaning,
            "fix": e.fix,
            "canvas_title": e.canvas_title,
        }
        for e in ENTRIES
    ]


async def errors(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"errors": dictionary_json()})
