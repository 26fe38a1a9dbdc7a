"""The pending delta, sync and remaster runs, their history, and the error dictionary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers import course_runs
from gpb.handlers.course_runs import request_run, run_history, visible_run
from gpb.handlers.dictionary import CANVAS_TITLES, ENTRIES
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.students import Roster
from gpb.handlers.syncs import RunKind, SyncRun
from gpb.listener import schemas
from gpb.listener.answers import json_answer
from gpb.listener.auth import authenticate, context, course_access
from gpb.listener.bodies import read_json
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError
from gpb.listener.operations import Param, operation, returns


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
        raise ApiError("INVALID_BODY", f"the body is not {what}: {detail}") from None


async def _body(request: Request) -> SyncBody:
    return await parsed_body(request, SyncBody, "a sync request")


async def pending_list(ctx: AppContext, course_id: str) -> schemas.PendingList:
    """The course's pending delta, and the line items to send again because their assignment
    changed, as the API answers them (and the pending page shows them)."""
    entries = await ctx.pending.entries(course_id)
    line_items = await ctx.pending.line_items(course_id)
    return schemas.PendingList.of(entries, line_items)


@operation(
    "The pending delta: grades whose value differs from what IC last confirmed",
    "token",
    {200: returns(schemas.PendingList)},
)
async def pending(request: Request) -> Response:
    _, course_id = await course_access(request)
    return json_answer(await pending_list(context(request), course_id))


@operation(
    "Start a sync or a remaster (or a dry run of one)",
    "token",
    {
        202: returns(schemas.Queued, "queued"),
        400: returns(schemas.ErrorBody, "INVALID_BODY, NO_ASSIGNMENTS, UNKNOWN_ASSIGNMENT, ..."),
        409: returns(schemas.ErrorBody, "SYNC_IN_PROGRESS, with the running run's sync_id"),
    },
    body={"application/json": SyncBody},
)
async def start_run(request: Request) -> Response:
    principal, course_id = await course_access(request)
    body = await _body(request)
    run = await request_run(
        context(request).syncs,
        principal,
        course_id,
        RunKind(body.kind),
        dry_run=body.dry_run,
        assignment_ids=body.assignment_ids,
    )
    return _queued(run)


async def _visible_run(request: Request) -> SyncRun:
    principal = await authenticate(request)
    return await visible_run(context(request).sync_runs, principal, request.path_params["sync_id"])


def _queued(run: SyncRun) -> Response:
    return json_answer(schemas.Queued.model_validate(run), 202)


async def run_answer(ctx: AppContext, run: SyncRun) -> schemas.SyncRun:
    """The run as the API answers it: each grade with the student's name as Canvas sorts it.

    A run under way lists no grade yet (its report is written when it ends), so the answer its
    page polls for every second reads no course to name nobody.
    """
    names: Mapping[str, str] = {}
    if run.report and run.report.get("grades"):
        names = Roster.of((await ctx.course_state.course_state(run.course_id)).enrollments).names
    return schemas.SyncRun.full(run, names)


@operation("One run, grade by grade", "token", {200: returns(schemas.SyncRun)})
async def get_run(request: Request) -> Response:
    return json_answer(await run_answer(context(request), await _visible_run(request)))


@operation(
    "Continue an interrupted run",
    "token",
    {
        202: returns(schemas.Queued, "queued again"),
        409: returns(schemas.ErrorBody, "NOT_RESUMABLE or SYNC_IN_PROGRESS"),
    },
)
async def resume_run(request: Request) -> Response:
    resumed = await context(request).syncs.resume(await _visible_run(request))
    return _queued(resumed)


@operation(
    "Take a run back: IC's earlier values put back where IC still holds what the run wrote",
    "token",
    {
        202: returns(schemas.Queued, "queued"),
        400: returns(schemas.ErrorBody, "INVALID_BODY"),
        409: returns(
            schemas.ErrorBody,
            "NOT_UNDOABLE, UNDO_OF_UNDO, ALREADY_UNDONE, SYNC_IN_PROGRESS, or UNDO_NEWER_RUNS"
            " with the sync_ids of the later runs to undo first",
        ),
    },
    body={"application/json": UndoBody},
)
async def undo_run(request: Request) -> Response:
    principal = await authenticate(request)
    ctx = context(request)
    run = await visible_run(ctx.sync_runs, principal, request.path_params["sync_id"])
    body = await parsed_body(request, UndoBody, "an undo request")
    undoing = await course_runs.undo_run(ctx.syncs, principal, run, dry_run=body.dry_run)
    return _queued(undoing)


@operation(
    "A course's runs, newest first",
    "token",
    {200: returns(schemas.SyncList), 400: returns(schemas.ErrorBody, "INVALID_QUERY")},
    query=(Param("cursor", "the next_cursor of the previous page"),),
)
async def list_runs(request: Request) -> Response:
    _, course_id = await course_access(request)
    cursor = request.query_params.get("cursor") or None
    history = await run_history(context(request).sync_runs, course_id, cursor)
    syncs = [schemas.SyncSummary.of(run) for run in history.runs]
    return json_answer(schemas.SyncList(syncs=syncs, next_cursor=history.next_cursor))


@operation("The error dictionary", "token", {200: returns(schemas.Dictionary)})
async def errors(request: Request) -> Response:
    await authenticate(request)
    found = {"errors": ENTRIES, "canvas_titles": CANVAS_TITLES}
    return json_answer(schemas.Dictionary.model_validate(found))
