"""The pending delta, sync and remaster runs, their history, and the error dictionary."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gpb.handlers.dictionary import CANVAS_TITLES, ENTRIES
from gpb.handlers.ids import local_id_or_none, record_id
from gpb.handlers.students import Roster
from gpb.handlers.sync_service import InvalidRequest, NewerRuns
from gpb.handlers.syncs import RunInProgress, RunKind, SyncRequest, SyncRun
from gpb.handlers.tokens import Principal
from gpb.listener.auth import authenticate, context, course_access
from gpb.listener.bodies import read_json
from gpb.listener.context import AppContext
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


Body = TypeVar("Body", bound=BaseModel)


class UndoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False


async def parsed_body(request: Request, model: type[Body], what: str) -> Body:
    body = await read_json(request, what)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        detail = exc.errors()[0]["msg"]
        raise ApiError(400, "INVALID_BODY", f"the body is not {what}: {detail}") from None


async def _body(request: Request) -> SyncBody:
    return await parsed_body(request, SyncBody, "a sync request")


async def pending_changes(ctx: AppContext, course_id: str) -> list[dict[str, Any]]:
    """The course's pending delta as the API answers it (and the pending page shows it)."""
    return [entry.as_json() for entry in await ctx.pending.entries(course_id)]


async def pending_line_items(ctx: AppContext, course_id: str) -> list[dict[str, Any]]:
    """The line items to send again because their assignment changed, as the API answers them."""
    return [change.as_json() for change in await ctx.pending.line_items(course_id)]


async def pending(request: Request) -> Response:
    _, course_id = await course_access(request)
    ctx = context(request)
    return JSONResponse(
        {
            "changes": await pending_changes(ctx, course_id),
            "line_items": await pending_line_items(ctx, course_id),
        }
    )


async def request_run(
    ctx: AppContext,
    principal: Principal,
    course_id: str,
    kind: RunKind,
    *,
    dry_run: bool,
    assignment_ids: Sequence[str] | None,
) -> SyncRun:
    """Queues a run as `principal` asked it, from the API or a page; the service's refusals
    come back as API errors (400, or 409 SYNC_IN_PROGRESS with the run's `sync_id`)."""
    sync_request = SyncRequest(
        course_id=course_id,
        kind=kind,
        dry_run=dry_run,
        assignment_ids=tuple(dict.fromkeys(assignment_ids)) if assignment_ids is not None else None,
        requested_by=principal.name or principal.role.value,
    )
    with _refusals(invalid_status=400):
        return await ctx.syncs.request(sync_request)


async def start_run(request: Request) -> Response:
    principal, course_id = await course_access(request)
    body = await _body(request)
    run = await request_run(
        context(request),
        principal,
        course_id,
        RunKind(body.kind),
        dry_run=body.dry_run,
        assignment_ids=body.assignment_ids,
    )
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
    except NewerRuns as newer:
        raise ApiError(409, "UNDO_NEWER_RUNS", str(newer), sync_ids=newer.sync_ids) from None


async def visible_run(ctx: AppContext, principal: Principal, sync_id: str) -> SyncRun:
    """The run, if `principal` may see its course; any other is "not found", like a course."""
    run = await ctx.sync_runs.run(sync_id)
    if run is None or not principal.may_see(run.course_id):
        raise not_found("no such run")
    return run


async def _visible_run(request: Request) -> SyncRun:
    principal = await authenticate(request)
    return await visible_run(context(request), principal, request.path_params["sync_id"])


async def run_json(ctx: AppContext, run: SyncRun) -> dict[str, Any]:
    """The run as the API answers it: each grade with the student's name as Canvas sorts it."""
    shown = run.as_json()
    roster = Roster.of((await ctx.course_state.course_state(run.course_id)).enrollments)
    for grade in shown["grades"]:
        grade["student_name"] = roster.names.get(grade["student_id"])
    return shown


async def get_run(request: Request) -> Response:
    return JSONResponse(await run_json(context(request), await _visible_run(request)))


async def resume(ctx: AppContext, run: SyncRun) -> SyncRun:
    """Queues an interrupted run again; refusals are 409 (NOT_RESUMABLE, SYNC_IN_PROGRESS)."""
    with _refusals(invalid_status=409):
        return await ctx.syncs.resume(run)


async def resume_run(request: Request) -> Response:
    resumed = await resume(context(request), await _visible_run(request))
    return JSONResponse({"id": resumed.id, "status": resumed.status.value}, status_code=202)


async def undo(ctx: AppContext, principal: Principal, run: SyncRun, *, dry_run: bool) -> SyncRun:
    """Queues the undo of `run` (or its preview); refusals are 409 (NOT_UNDOABLE, UNDO_OF_UNDO,
    ALREADY_UNDONE, UNDO_NEWER_RUNS with the runs to undo first, SYNC_IN_PROGRESS)."""
    with _refusals(invalid_status=409):
        return await ctx.syncs.undo(
            run, dry_run=dry_run, requested_by=principal.name or principal.role.value
        )


async def undo_run(request: Request) -> Response:
    principal = await authenticate(request)
    run = await visible_run(context(request), principal, request.path_params["sync_id"])
    body = await parsed_body(request, UndoBody, "an undo request")
    undoing = await undo(context(request), principal, run, dry_run=body.dry_run)
    return JSONResponse({"id": undoing.id, "status": undoing.status.value}, status_code=202)


async def run_history(
    ctx: AppContext, course_id: str, cursor: str | None
) -> tuple[list[SyncRun], str | None]:
    """One page of the course's runs, newest first, and the cursor of the next page (or None)."""
    if cursor is not None and record_id(cursor) is None:
        raise ApiError(400, "INVALID_QUERY", "cursor is not one this API gave")
    runs = await ctx.sync_runs.runs(course_id, cursor, HISTORY_PAGE + 1)
    page = runs[:HISTORY_PAGE]
    return page, page[-1].id if len(runs) > HISTORY_PAGE else None


async def list_runs(request: Request) -> Response:
    _, course_id = await course_access(request)
    cursor = request.query_params.get("cursor") or None
    page, next_cursor = await run_history(context(request), course_id, cursor)
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


def canvas_titles_json() -> list[dict[str, Any]]:
    return [
        {"title": t.title, "meaning": t.meaning, "codes": list(t.codes), "fix": t.fix}
        for t in CANVAS_TITLES
    ]


async def errors(request: Request) -> Response:
    await authenticate(request)
    return JSONResponse({"errors": dictionary_json(), "canvas_titles": canvas_titles_json()})
