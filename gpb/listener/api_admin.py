"""Admin operations over HTTP: the connection checks of `gpb check`, the admin alerts, and the
reconciliations with each course's nightly-remaster opt-in."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gpb.handlers.ids import local_id_or_none, record_id
from gpb.listener import schemas
from gpb.listener.answers import json_answer
from gpb.listener.auth import context, require_admin
from gpb.listener.bodies import read_json
from gpb.listener.context import AppContext
from gpb.listener.errors import ApiError, not_found
from gpb.listener.operations import ANY_JSON, CHECK_SCOPE, Param, operation, returns

RECONCILIATIONS_PAGE = 50


def check_scope(query: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The course (local id) and IC class a check was asked to read, from the API's query or
    the check page's form; a course that is no Canvas id is a 400 INVALID_QUERY."""
    course = query.get("course_id") or None
    course_id = local_id_or_none(course) if course else None
    if course is not None and course_id is None:
        raise ApiError("INVALID_QUERY", "course_id must be a Canvas course id")
    return course_id, query.get("class_id") or None


@operation(
    "Try every outside connection (gpb check)",
    "admin",
    {200: returns(schemas.CheckReport), 400: returns(schemas.ErrorBody, "INVALID_QUERY")},
    query=CHECK_SCOPE,
)
async def check_connections(request: Request) -> Response:
    """`GET /api/admin/check[?course_id=&class_id=]`: 200 with the report, passed or not."""
    await require_admin(request)
    course_id, class_id = check_scope(request.query_params)
    report = await context(request).connection_checks.report(course_id, class_id)
    return json_answer(schemas.CheckReport.model_validate(report))


@operation(
    "Alerts about gpb itself, newest first",
    "admin",
    {200: ANY_JSON, 400: returns(schemas.ErrorBody, "INVALID_QUERY")},
    query=(Param("state", "only open or resolved alerts", {"enum": ["open", "resolved"]}),),
)
async def list_admin_alerts(request: Request) -> Response:
    """`GET /api/admin/alerts[?state=open|resolved]`: newest first."""
    await require_admin(request)
    state = request.query_params.get("state") or None
    if state not in (None, "open", "resolved"):
        raise ApiError("INVALID_QUERY", "state is open or resolved")
    alerts = await context(request).admin_alerts.admin_alerts(state)
    return json_answer(schemas.AdminAlertList.model_validate({"alerts": alerts}))


@operation(
    "Nightly reconciliations, newest first",
    "admin",
    {200: ANY_JSON, 400: returns(schemas.ErrorBody, "INVALID_QUERY")},
    query=(Param("course_id", "one course's only"), Param("cursor", "the next_cursor")),
)
async def list_reconciliations(request: Request) -> Response:
    """`GET /api/admin/reconciliations[?course_id=&cursor=]`: summaries, newest first."""
    await require_admin(request)
    query = request.query_params
    course = query.get("course_id") or None
    course_id = local_id_or_none(course) if course else None
    if course is not None and course_id is None:
        raise ApiError("INVALID_QUERY", "course_id must be a Canvas course id")
    cursor = query.get("cursor") or None
    if cursor is not None and record_id(cursor) is None:
        raise ApiError("INVALID_QUERY", "cursor is not one this API gave")
    found = await context(request).reconciliations.reconciliations(
        course_id, cursor, RECONCILIATIONS_PAGE + 1
    )
    page = found[:RECONCILIATIONS_PAGE]
    next_cursor = page[-1].id if len(found) > RECONCILIATIONS_PAGE else None
    summaries = [schemas.ReconciliationSummary.of(r) for r in page]
    return json_answer(
        schemas.ReconciliationList(reconciliations=summaries, next_cursor=next_cursor)
    )


async def reconciliation_answer(ctx: AppContext, reconciliation_id: str) -> schemas.Reconciliation:
    """One reconciliation with its repaired grades and drift list, as the API and page show it."""
    found = await ctx.reconciliations.reconciliation(reconciliation_id)
    if found is None:
        raise not_found("no such reconciliation")
    return schemas.Reconciliation.full(found)


@operation("One reconciliation with its repaired grades and drift", "admin", {200: ANY_JSON})
async def get_reconciliation(request: Request) -> Response:
    """`GET /api/admin/reconciliations/{id}`: with its repaired grades and drift list."""
    await require_admin(request)
    reconciliation_id = request.path_params["reconciliation_id"]
    return json_answer(await reconciliation_answer(context(request), reconciliation_id))


class ReconcileOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nightly_remaster: StrictBool


@operation(
    "A course's nightly-remaster opt-in and latest reconciliation",
    "admin",
    {200: ANY_JSON},
    method="GET",
)
@operation(
    "Opt a course in or out of the nightly remaster",
    "admin",
    {200: ANY_JSON, 400: returns(schemas.ErrorBody, "INVALID_BODY")},
    body={
        "application/json": {
            "type": "object",
            "properties": {"nightly_remaster": {"type": "boolean"}},
            "required": ["nightly_remaster"],
        }
    },
    method="PUT",
)
async def course_reconciliation(request: Request) -> Response:
    """`GET /api/admin/courses/{course_id}/reconciliation`: the opt-in and the latest report;
    `PUT` with `{"nightly_remaster": true|false}` sets the opt-in."""
    await require_admin(request)
    ctx = context(request)
    course_id = local_id_or_none(request.path_params["course_id"])
    if course_id is None:
        raise not_found("no such course")
    if request.method == "PUT":
        options = await _options(request)
        if not await ctx.reconciliations.set_nightly_remaster(course_id, options.nightly_remaster):
            raise not_found("gpb knows no such course")
    return json_answer(await _course_reconciliation(ctx, course_id))


async def _course_reconciliation(ctx: AppContext, course_id: str) -> schemas.CourseReconciliation:
    course = await ctx.reconciliations.reconcile_course(course_id)
    if course is None:
        raise not_found("gpb knows no such course")
    latest = await ctx.reconciliations.reconciliations(course_id, None, 1)
    return schemas.CourseReconciliation(
        course_id=course_id,
        nightly_remaster=course.nightly_remaster,
        latest=schemas.Reconciliation.full(latest[0]) if latest else None,
    )


async def _options(request: Request) -> ReconcileOptions:
    body = await read_json(request, "reconciliation options")
    try:
        return ReconcileOptions.model_validate(body)
    except ValidationError:
        raise ApiError(
            "INVALID_BODY", 'send {"nightly_remaster": true} or {"nightly_remaster": false}'
        ) from None
